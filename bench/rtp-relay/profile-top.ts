/**
 * Top frames of a V8 .cpuprofile (from `node --cpu-prof`) as a Markdown table.
 * Usage: node dist/bench/rtp-relay/profile-top.js FILE.cpuprofile [--top 25]
 */
import { topFrames } from '../common/profile.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: profile-top FILE.cpuprofile [--top N]');
const topIndex = process.argv.indexOf('--top');
const top = topIndex === -1 ? 25 : Number(process.argv[topIndex + 1]);
const { busyS, idleS, frames } = topFrames(file, top);

console.log(`busy ${busyS.toFixed(2)} s, idle ${idleS.toFixed(2)} s`);
console.log('| self % of busy | self ms | function |');
console.log('| --- | --- | --- |');
for (const f of frames) console.log(`| ${f.selfPct.toFixed(1)} | ${f.selfMs.toFixed(0)} | \`${f.frame}\` |`);
