/**
 * Backend choice for one Service port, as kube-proxy makes it: round-robin over ready endpoints, or
 * with `sessionAffinity: ClientIP` the same backend for a client address while that backend stays
 * ready and the affinity has not idled out (`sessionAffinityConfig.clientIP.timeoutSeconds`).
 */
import type { Backend } from '../controllers/endpoints-plan.js';

/** Chooses backends; the affinity table is bounded (`maxClients`, oldest dropped first). */
export class Balancer {
  #backends: readonly Backend[] = [];
  #next = 0;
  readonly #affinity = new Map<string, { backend: Backend; lastUsed: number }>();
  readonly #clientIp: boolean;
  readonly #timeoutMs: number;
  readonly #maxClients: number;
  readonly #now: () => number;

  constructor(opts: {
    clientIpAffinity: boolean;
    timeoutMs: number;
    maxClients?: number;
    now?: () => number;
  }) {
    this.#clientIp = opts.clientIpAffinity;
    this.#timeoutMs = opts.timeoutMs;
    this.#maxClients = opts.maxClients ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Replaces the ready backends; affinities to backends that left are forgotten. */
  setBackends(backends: readonly Backend[]): void {
    this.#backends = backends;
    const live = new Set(backends.map(keyOf));
    for (const [client, a] of this.#affinity) if (!live.has(keyOf(a.backend))) this.#affinity.delete(client);
  }

  backends(): readonly Backend[] {
    return this.#backends;
  }

  /** The backend for a new flow from `clientIp`, or undefined when none is ready. */
  pick(clientIp: string): Backend | undefined {
    if (this.#backends.length === 0) return undefined;
    const now = this.#now();
    if (this.#clientIp) {
      const a = this.#affinity.get(clientIp);
      if (a !== undefined && now - a.lastUsed <= this.#timeoutMs) {
        this.#affinity.delete(clientIp);
        this.#affinity.set(clientIp, { backend: a.backend, lastUsed: now });
        return a.backend;
      }
    }
    const backend = this.#backends[this.#next % this.#backends.length];
    this.#next = (this.#next + 1) % Math.max(1, this.#backends.length);
    if (backend === undefined) return undefined;
    if (this.#clientIp) {
      this.#affinity.delete(clientIp);
      this.#affinity.set(clientIp, { backend, lastUsed: now });
      while (this.#affinity.size > this.#maxClients) {
        const oldest = this.#affinity.keys().next().value;
        if (oldest === undefined) break;
        this.#affinity.delete(oldest);
      }
    }
    return backend;
  }

  /** True while `backend` is still one of the ready backends. */
  isReady(backend: Backend): boolean {
    const k = keyOf(backend);
    return this.#backends.some((b) => keyOf(b) === k);
  }
}

function keyOf(b: Backend): string {
  return `${b.ip}:${b.port}`;
}
