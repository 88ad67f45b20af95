/**
 * Volumes without a container runtime. Each volume is written to `<podDir>/volumes/<name>/`
 * (ConfigMap and Secret keys as files, honouring `items`; `emptyDir` empty; `downwardAPI` fields).
 * A container's filesystem view is `<podDir>/root` (exported to the process as `KUBE_MOUNT_ROOT`),
 * where each `volumeMount.mountPath` is a symlink to its volume (or `subPath` inside it).
 *
 * Path rewriting: the process sees no chroot, so absolute paths that start at a mount path are
 * rewritten to `<podDir>/root<mountPath>...` in the container's `command`, `args`, `env` values and
 * `workingDir`, and inside the text of ConfigMap volume files (so a mounted config file can point at
 * another mount). A path "starts at" a mount when it equals it or continues with `/`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node';
import type { DataSources } from './env.js';
import { ContainerConfigError, fieldRefValue } from './env.js';

/** One mount of a container: the path it asked for and where that is on this machine. */
export interface Mount {
  readonly mountPath: string;
  readonly hostPath: string;
}

/** The mounts of a container under `root` (`<root><mountPath>`), longest mount path first. */
export function mountsOf(container: V1Container, root: string): Mount[] {
  return (container.volumeMounts ?? [])
    .map((m) => {
      const mountPath = m.mountPath.replace(/\/+$/, '') || '/';
      return { mountPath, hostPath: path.join(root, mountPath) };
    })
    .sort((a, b) => b.mountPath.length - a.mountPath.length);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `text` with every absolute path that starts at a mount path rewritten to its host path. */
export function rewritePaths(text: string, mounts: readonly Mount[]): string {
  if (mounts.length === 0) return text;
  const alternatives = mounts.filter((m) => m.mountPath !== '/').map((m) => escapeRegExp(m.mountPath));
  if (alternatives.length === 0) return text;
  // A mount path preceded by start or a non-path character and followed by `/`, end or a non-path character.
  const re = new RegExp(`(^|[^A-Za-z0-9_./-])(${alternatives.join('|')})(?=/|$|[^A-Za-z0-9_.-])`, 'g');
  return text.replace(re, (_whole, lead: string, mountPath: string) => {
    const m = mounts.find((x) => x.mountPath === mountPath);
    return `${lead}${m === undefined ? mountPath : m.hostPath}`;
  });
}

function keyToPath(
  data: Readonly<Record<string, string>>,
  items: { key: string; path: string }[] | undefined,
  optional: boolean,
  what: string,
): Map<string, string> {
  const out = new Map<string, string>();
  if (items === undefined || items.length === 0) {
    for (const [k, v] of Object.entries(data)) out.set(k, v);
    return out;
  }
  for (const item of items) {
    const v = data[item.key];
    if (v === undefined) {
      if (!optional) throw new ContainerConfigError(`key "${item.key}" not found in ${what}`);
      continue;
    }
    out.set(item.path, v);
  }
  return out;
}

/** The files (relative path -> text) of one volume, or undefined for a kind that is just a directory. */
export function volumeFiles(
  pod: V1Pod,
  volume: V1Volume,
  sources: DataSources,
): Map<string, string> | undefined {
  const ns = pod.metadata?.namespace ?? 'default';
  if (volume.configMap !== undefined) {
    const name = volume.configMap.name ?? '';
    const data = sources.configMap(ns, name);
    const optional = volume.configMap.optional === true;
    if (data === undefined) {
      if (optional) return new Map();
      throw new ContainerConfigError(`ConfigMap "${name}" not found (volume ${volume.name})`);
    }
    return keyToPath(data, volume.configMap.items, optional, `ConfigMap "${name}"`);
  }
  if (volume.secret !== undefined) {
    const name = volume.secret.secretName ?? '';
    const data = sources.secret(ns, name);
    const optional = volume.secret.optional === true;
    if (data === undefined) {
      if (optional) return new Map();
      throw new ContainerConfigError(`Secret "${name}" not found (volume ${volume.name})`);
    }
    return keyToPath(data, volume.secret.items, optional, `Secret "${name}"`);
  }
  if (volume.downwardAPI !== undefined) {
    const out = new Map<string, string>();
    for (const item of volume.downwardAPI.items ?? []) {
      if (item.fieldRef !== undefined) out.set(item.path, fieldRefValue(pod, item.fieldRef) ?? '');
    }
    return out;
  }
  return undefined;
}

/**
 * Writes a volume's files as `<volumesDir>/..<name>-<generation>/` and points the `<volumesDir>/<name>`
 * symlink at it with an atomic rename (as the kubelet's atomic writer does), so a process reading a
 * refreshed ConfigMap never sees a half-written folder; the previous generation is removed.
 */
export function writeVolume(
  volumesDir: string,
  name: string,
  files: ReadonlyMap<string, string> | undefined,
  rewrite: ((text: string) => string) | undefined,
  mode: number,
): void {
  const link = path.join(volumesDir, name);
  let previous: string | undefined;
  try {
    previous = fs.readlinkSync(link);
  } catch {
    previous = undefined;
  }
  const dir = fs.mkdtempSync(path.join(volumesDir, `..${name}-`));
  for (const [rel, text] of files ?? []) {
    const file = path.join(dir, rel);
    if (!file.startsWith(dir + path.sep)) continue; // items paths may not escape the volume
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, rewrite === undefined ? text : rewrite(text), { mode });
  }
  const tmp = `${link}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(dir, tmp);
  fs.renameSync(tmp, link);
  if (previous !== undefined && previous !== dir) fs.rmSync(previous, { recursive: true, force: true });
}

/** Links `<root><mountPath>` to the volume folder (or its `subPath`) for each of the container's mounts. */
export function linkMounts(container: V1Container, root: string, volumesDir: string): void {
  for (const m of container.volumeMounts ?? []) {
    const link = path.join(root, m.mountPath);
    const target = path.join(volumesDir, m.name, m.subPath ?? '');
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync(target, link);
  }
}
