// Finds the external programs the e2e tests drive (SIPp, baresip) the way a shell would, so a missing one is
// reported with its install hint instead of as a spawn ENOENT.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Absolute path of the first executable `binary` in a directory of `PATH`, or undefined when there is none. */
export function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
