// startApiServer: the in-process Kubernetes API on node:https with a generated CA and a kubeconfig.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api } from './api.js';
import { makeServingCerts } from './certs.js';
import { handle, type HandlerContext } from './http-handler.js';
import { writeKubeconfig } from './kubeconfig.js';
import { makeApiStore, type ApiStore } from './store-api.js';

/** Options of startApiServer. */
export interface ApiServerOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Where to write the kubeconfig; default a fresh temporary folder (removed on stop). */
  kubeconfigPath?: string;
  /** How many change events are kept for watch resumption before older resourceVersions get 410. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 5000 ms). */
  bookmarkIntervalMs?: number;
  /** Clock for timestamps (default the wall clock). */
  now?: () => Date;
}

/** A running API server. */
export interface ApiServer {
  /** `https://127.0.0.1:<port>`. */
  url: string;
  port: number;
  kubeconfigPath: string;
  /** The CA that signed the serving certificate (PEM). */
  caPem: string;
  /** The bearer token the kubeconfig carries. */
  token: string;
  /** Typed in-process access to objects. */
  store: ApiStore;
  /** Closes every open watch connection (clients reconnect with their last resourceVersion). */
  dropWatches(): void;
  /** Stops the server (idempotent). */
  stop(): Promise<void>;
}

/** Starts the API server on 127.0.0.1 and writes its kubeconfig. */
export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const certs = await makeServingCerts();
  const api = new Api({
    ...(opts.historyLimit === undefined ? {} : { historyLimit: opts.historyLimit }),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const token = randomBytes(24).toString('hex');
  const watches = new Set<() => void>();
  let port = opts.port ?? 0;
  const ctx: HandlerContext = {
    api,
    token,
    address: () => `127.0.0.1:${port}`,
    watch: {
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 5000,
      track: (end) => {
        watches.add(end);
        return () => watches.delete(end);
      },
    },
  };
  const server = createServer(
    { cert: certs.certPem, key: certs.keyPem },
    (req, res) => void handle(ctx, req, res),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const tempDir = opts.kubeconfigPath === undefined ? await mkdtemp(join(tmpdir(), 'kube-')) : undefined;
  const kubeconfigPath = opts.kubeconfigPath ?? join(tempDir ?? '', 'config');
  const url = `https://127.0.0.1:${port}`;
  await writeKubeconfig(kubeconfigPath, { server: url, caPem: certs.caPem, token });
  const dropWatches = (): void => {
    for (const end of [...watches]) end();
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      dropWatches();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    })());
  return {
    url,
    port,
    kubeconfigPath,
    caPem: certs.caPem,
    token,
    store: makeApiStore(api),
    dropWatches,
    stop,
  };
}
