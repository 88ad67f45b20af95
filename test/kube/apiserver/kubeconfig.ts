// Writes a kubeconfig for the server: the CA as certificate-authority-data and a bearer token user.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';

/** What a kubeconfig for the test server needs. */
export interface KubeconfigInput {
  server: string;
  caPem: string;
  token: string;
}

/** The kubeconfig document (cluster, user, context `sippbx-test`, namespace default). */
export function kubeconfigYaml(k: KubeconfigInput): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'sippbx-test',
        cluster: { server: k.server, 'certificate-authority-data': Buffer.from(k.caPem).toString('base64') },
      },
    ],
    users: [{ name: 'sippbx-admin', user: { token: k.token } }],
    contexts: [
      {
        name: 'sippbx-test',
        context: { cluster: 'sippbx-test', user: 'sippbx-admin', namespace: 'default' },
      },
    ],
    'current-context': 'sippbx-test',
    preferences: {},
  });
}

/** Writes the kubeconfig (mode 0600), creating its folder. */
export async function writeKubeconfig(path: string, k: KubeconfigInput): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, kubeconfigYaml(k), { mode: 0o600 });
}
