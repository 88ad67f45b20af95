// No pod process outlives its cluster, even when the test process dies without running any handler.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('orphans', () => {
  it('SIGKILL of the process running a cluster still kills its pods (the kubelet watchdog)', async () => {
    const script = new URL('./kubelet/testdata/orphan-check.ts', import.meta.url).pathname;
    const host = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(readline.createInterface({ input: host.stdout }), 'line')) as [string];
    const { pid } = JSON.parse(line) as { pid: number };
    expect(alive(pid)).toBe(true);
    host.kill('SIGKILL');
    await once(host, 'exit');
    // The pod process is not our child, so there is no exit event to await: check until it is gone.
    const deadline = Date.now() + 5000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid)).toBe(false);
  });
});
