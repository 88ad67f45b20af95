/** Top frames of a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function, idle excluded. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One function's share of the busy (non-idle) samples. */
export interface Frame {
  /** `name file:line`, paths shortened to `dist/…`, `node_modules/…` or `node:…`. */
  readonly frame: string;
  readonly selfMs: number;
  readonly selfPct: number;
}

/** Busy and idle seconds of a profile and its `top` frames by self time. */
export function topFrames(file: string, top: number): { busyS: number; idleS: number; frames: Frame[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
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
    const shortUrl = url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
    const where = url === '' ? '' : ` ${shortUrl}:${lineNumber + 1}`;
    const key = `${functionName === '' ? '(anonymous)' : functionName}${where}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
  });
  const frames = [...selfUs]
    .sort((x, y) => y[1] - x[1])
    .slice(0, top)
    .map(([frame, us]) => ({ frame, selfMs: us / 1000, selfPct: (us / busyUs) * 100 }));
  return { busyS: busyUs / 1e6, idleS: idleUs / 1e6, frames };
}

/** Self time grouped by where the code lives (pbx folder, a dependency, node internals, GC, native). */
export function selfByArea(file: string): { area: string; selfPct: number }[] {
  const { frames } = topFrames(file, Number.MAX_SAFE_INTEGER);
  const areas = new Map<string, number>();
  for (const f of frames) {
    const m =
      /dist\/pbx\/([^/]+)\//.exec(f.frame) ??
      /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f.frame) ??
      /(node:[^/:]+)/.exec(f.frame) ??
      /^(\([^)]*\))/.exec(f.frame);
    const key = m?.[1] ?? 'native/other';
    areas.set(key, (areas.get(key) ?? 0) + f.selfPct);
  }
  return [...areas].sort((x, y) => y[1] - x[1]).map(([area, selfPct]) => ({ area, selfPct }));
}
