/**
 * The kubelet's watchdog, a separate process (run with Node's type stripping): it reads `+<pid>` and
 * `-<pid>` lines on stdin naming the process groups of running containers, and when stdin ends —
 * because the kubelet stopped, or its process died without running any handler (SIGKILL, or SIGTERM
 * from a test runner) — it SIGKILLs every group still listed, so no pod process outlives its cluster.
 */
import readline from 'node:readline';

const groups = new Set<number>();

function killAll(): void {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  groups.clear();
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const pid = Number(line.slice(1));
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (line.startsWith('+')) groups.add(pid);
  else if (line.startsWith('-')) groups.delete(pid);
});
lines.on('close', () => {
  killAll();
  process.exit(0);
});
// The kubelet's own signals reach this process too when they target its group; outlive them until stdin ends.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('SIGHUP', () => undefined);
