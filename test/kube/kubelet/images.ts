/**
 * The image map: how the kubelet turns a container image into a local program, so manifests keep
 * their real image names. Entries are matched by image repository (any tag or digest):
 * `ghcr.io/sippbx/sippbx:1.2.3` and `ghcr.io/sippbx/sippbx@sha256:...` both match `ghcr.io/sippbx/sippbx`.
 *
 * An entry plays the image's ENTRYPOINT (`command`) and CMD (`args`). Kubernetes rules apply
 * (https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/):
 * container `command` replaces the entrypoint and drops the image args; container `args` replace the
 * image args. A leading `node` (from either) runs as this process's Node (`process.execPath`).
 */
import path from 'node:path';

/** One image: its entrypoint, default args and working directory. */
export interface ImageEntry {
  readonly command: readonly string[];
  readonly args?: readonly string[];
  /** Working directory of the process (default: the repository root). */
  readonly workingDir?: string;
}

/** Image repository -> entry; an array is shorthand for `{ command }`. */
export type ImageMap = Readonly<Record<string, ImageEntry | readonly string[]>>;

/** The images every cluster knows: the pbx and the operator of this checkout (built into `dist/`). */
export function defaultImageMap(repoRoot: string): ImageMap {
  return {
    'ghcr.io/sippbx/sippbx': {
      command: ['node', path.join(repoRoot, 'dist/pbx/main.js')],
      workingDir: repoRoot,
    },
    'ghcr.io/sippbx/sippbx-operator': {
      command: ['node', path.join(repoRoot, 'dist/operator/main.js')],
      workingDir: repoRoot,
    },
    // Plain Node images run whatever `command`/`args` say (`node -e ...`).
    node: { command: ['node'], workingDir: repoRoot },
    // The machine's redis-server, on the pod IP, without persistence (`KUBE_POD_IP` is set by the kubelet).
    redis: {
      command: ['redis-server'],
      args: ['--bind', '$(KUBE_POD_IP)', '--port', '6379', '--save', '', '--appendonly', 'no'],
    },
  };
}

/** The repository of an image reference: tag and digest removed (`host:5000/a/b:tag` -> `host:5000/a/b`). */
export function imageRepository(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > lastSlash ? noDigest.slice(0, colon) : noDigest;
}

/** The entry for `image`, or undefined when the map does not know its repository (Docker Hub names normalized). */
export function resolveImage(map: ImageMap, image: string): ImageEntry | undefined {
  const repo = imageRepository(image);
  const short = repo.replace(/^(?:docker\.io\/)?(?:library\/)?/, '');
  const entry = map[repo] ?? map[short] ?? map[`docker.io/library/${short}`];
  if (entry === undefined) return undefined;
  return isEntry(entry) ? entry : { command: entry };
}

function isEntry(e: ImageEntry | readonly string[]): e is ImageEntry {
  return !Array.isArray(e);
}

/**
 * `$(VAR)` references expanded from `env` (Kubernetes: unknown references stay as written,
 * `$$(VAR)` is the escaped literal `$(VAR)`).
 */
export function expandVars(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (name === undefined) return '$';
    return env[name] ?? whole;
  });
}

/** The argv a container runs, from its image entry and its `command`/`args`, with `$(VAR)` expanded. */
export function containerArgv(
  entry: ImageEntry,
  container: { command?: string[]; args?: string[] },
  env: Readonly<Record<string, string>>,
): string[] {
  const command =
    container.command !== undefined && container.command.length > 0 ? container.command : undefined;
  const head = command ?? [...entry.command];
  const tail = container.args ?? (command === undefined ? [...(entry.args ?? [])] : []);
  const argv = [...head, ...tail].map((a) => expandVars(a, env));
  if (argv[0] === 'node') argv[0] = process.execPath;
  return argv;
}
