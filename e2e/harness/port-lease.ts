/**
 * Media port ranges for e2e pbx processes. Test files run in parallel, and so may other test runs on
 * the same machine: two pbx processes relaying on the same ports would take each other's blocks (bind
 * failures, then 503). Each started pbx leases one slot of 1,000 ports in 20000–31999 — below Linux's
 * ephemeral range (32768+), so no client socket lands in it — with a lock file created exclusively
 * and holding the owner's pid; leases of dead processes are reclaimed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tryLease } from '../../test/support/lease.js';

const FIRST = 20_000;
const SLOT = 1_000;
const SLOTS = 12;
const DIR = path.join(os.tmpdir(), 'sippbx-e2e-media-leases');

/** A leased media port range; `release()` is idempotent. */
export interface PortLease {
  readonly start: number;
  readonly end: number;
  release(): void;
}

let next = 0;

/** Leases a free slot; throws when all 12 are held by live processes. */
export function leaseMediaPorts(): PortLease {
  fs.mkdirSync(DIR, { recursive: true });
  for (let i = 0; i < SLOTS; i++) {
    const slot = (next + i) % SLOTS;
    const file = path.join(DIR, `slot-${slot}`);
    if (!tryLease(file)) continue;
    next = slot + 1;
    let held = true;
    return {
      start: FIRST + slot * SLOT,
      end: FIRST + (slot + 1) * SLOT,
      release() {
        if (!held) return;
        held = false;
        fs.rmSync(file, { force: true });
      },
    };
  }
  throw new Error(`all ${SLOTS} e2e media port slots are leased (${DIR})`);
}
