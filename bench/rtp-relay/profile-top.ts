/**
 * Top frames of a V8 .cpuprofile (from `node --cpu-prof`): self time per function, idle excluded.
 * Usage: node dist/bench/rtp-relay/profile-top.js FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: profile-top FILE.cpuprofile [--top N]');
const topIndex = process.argv.indexOf('--top');
const top = topIndex === -1 ? 25 : Number(process.argv[topIndex + 1]);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<string, number>();
let busyUs = 0;
let idleUs = 0;
profile.samples.forEach((id, i) => {
  const node = byId.get(id);
  const dt = profile.timeDeltas[i] ?? 0;
  if (node === undefined) return;
  const { functionName, url, lineNumber } = node.callFrame;
  if (functionName === '(idle)') {
    idleUs += dt;
    return;
  }
  busyUs += dt;
  const where =
    url === '' ? '' : ` ${url.replace(/^.*\/(node_modules|dist|lib)\//, '$1/')}:${lineNumber + 1}`;
  const key = `${functionName === '' ? '(anonymous)' : functionName}${where}`;
  selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
});

console.log(`busy ${(busyUs / 1e6).toFixed(2)} s, idle ${(idleUs / 1e6).toFixed(2)} s`);
console.log('| self % of busy | self ms | function |');
console.log('| --- | --- | --- |');
for (const [key, us] of [...selfUs].sort((x, y) => y[1] - x[1]).slice(0, top)) {
  console.log(`| ${((us / busyUs) * 100).toFixed(1)} | ${(us / 1000).toFixed(0)} | \`${key}\` |`);
}
