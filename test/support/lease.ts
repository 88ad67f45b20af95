/**
 * Machine-wide leases for test resources (loopback addresses, media port slots): a lease is a lock
 * file created exclusively and holding the owner's pid, so parallel test processes never hand out the
 * same resource; a lease whose owner process is gone is reclaimed.
 */
import fs from 'node:fs';

/** True while a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lease file for this process; reclaims it when its owner is dead. False when held. */
export function tryLease(file: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) return false;
      fs.rmSync(file, { force: true });
    }
  }
  return false;
}
