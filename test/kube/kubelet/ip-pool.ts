/**
 * Loopback address pools (pods in 127.0.1.0/24, Services in 127.0.2.0/24 by default). An address is
 * unique per live holder across every process on the machine: a lease is a lock file
 * `<lockDir>/<ip>` created exclusively and holding the owner's pid, so clusters started by parallel
 * test files never hand out the same address; leases of dead processes are reclaimed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tryLease } from '../../support/lease.js';

/** An address pool. */
export interface IpPool {
  /** Leases the next free address (next-fit, so a released address is not reused at once). */
  allocate(): string;
  release(ip: string): void;
  /** Releases every lease this pool holds. */
  close(): void;
}

/** Options of `createIpPool`. */
export interface IpPoolOptions {
  /** The first three octets, e.g. `127.0.1`. */
  readonly prefix: string;
  /** Host numbers to use, inclusive; default 1..254. */
  readonly first?: number;
  readonly last?: number;
  /** Where leases live; default `<tmpdir>/sippbx-kube-leases`. */
  readonly lockDir?: string;
}

/** Creates a pool of `<prefix>.<first..last>` addresses. */
export function createIpPool(opts: IpPoolOptions): IpPool {
  const first = opts.first ?? 1;
  const last = opts.last ?? 254;
  const dir = opts.lockDir ?? path.join(os.tmpdir(), 'sippbx-kube-leases');
  fs.mkdirSync(dir, { recursive: true });
  const held = new Set<string>();
  let next = first;
  const size = last - first + 1;
  return {
    allocate() {
      for (let i = 0; i < size; i++) {
        const host = first + ((next - first + i) % size);
        const ip = `${opts.prefix}.${host}`;
        if (held.has(ip)) continue;
        if (tryLease(path.join(dir, ip))) {
          held.add(ip);
          next = host + 1 > last ? first : host + 1;
          return ip;
        }
      }
      throw new Error(`no free address in ${opts.prefix}.${first}-${last}`);
    },
    release(ip) {
      if (!held.delete(ip)) return;
      fs.rmSync(path.join(dir, ip), { force: true });
    },
    close() {
      for (const ip of [...held]) this.release(ip);
    },
  };
}
