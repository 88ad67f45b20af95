import { PortPoolExhausted } from '../ports/errors.js';
import type { PortPool } from '../ports/types.js';
import { MediaBindError } from './errors.js';
import { createMediaSession } from './session.js';
import type { MediaSession } from './session.js';
import type { MediaSessionOptions } from './session-options.js';

/** Options of openMediaSession: those of a session, minus the block and its release, which the pool provides. */
export type OpenMediaSessionOptions = Omit<MediaSessionOptions, 'block' | 'onClose'> & {
  /** Blocks to try when ports turn out to be taken by another process; default 16. */
  readonly maxBindAttempts?: number;
};

/**
 * Leases a block and binds a session on it; a block whose ports are taken is quarantined and the next one
 * tried. The session owns the lease: closing it returns the block. Throws PortPoolExhausted (-> 503).
 */
export async function openMediaSession(
  pool: PortPool,
  options: OpenMediaSessionOptions,
): Promise<MediaSession> {
  // A failed block is quarantined, so each taken block costs one failed bind per quarantine period however
  // many calls meet it: more attempts turn the 503s of a run of taken blocks (another process on an
  // overlapping range) into calls without multiplying the work. 16 bounds one call's probing (~0.2 ms native).
  const attempts = Math.max(1, options.maxBindAttempts ?? 16);
  let lastError: MediaBindError | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const block = pool.reserve();
    try {
      return await createMediaSession({ ...options, block, onClose: () => pool.release(block) });
    } catch (error) {
      if (!(error instanceof MediaBindError)) {
        pool.release(block);
        throw error;
      }
      pool.quarantine(block);
      lastError = error;
    }
  }
  throw new PortPoolExhausted('no-free-block', undefined, { cause: lastError });
}
