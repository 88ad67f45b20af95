/**
 * Helper process for the orphan test: starts a cluster with one `test/echo` pod, prints
 * `{"pid": <container pid>}` once the container runs, then waits to be killed (SIGKILL, so no
 * handler of this process runs: only the kubelet's watchdog can clean up).
 * Run as `node test/kube/kubelet/testdata/orphan-check.ts` (types stripped; `.js` imports resolved to `.ts`).
 */
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context);
    } catch (err) {
      const fromTs = context.parentURL?.endsWith('.ts') === true && specifier.startsWith('.') && specifier.endsWith('.js');
      if (!fromTs) throw err;
      return next(specifier.replace(/\.js$/, '.ts'), context);
    }
  },
});

const { CoreV1Api } = await import('@kubernetes/client-node');
const { startCluster } = await import('../../cluster.js');
const { ECHO_IMAGES, watchPods } = await import('../../controllers/testing.js');

const cluster = await startCluster({ images: ECHO_IMAGES });
const pods = await watchPods(cluster.kc);
await cluster.kc.makeApiClient(CoreV1Api).createNamespacedPod({
  namespace: 'default',
  body: {
    metadata: { name: 'orphan', namespace: 'default' },
    spec: {
      containers: [
        {
          name: 'echo',
          image: 'test/echo',
          env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
        },
      ],
    },
  },
});
const [pod] = await pods.until(
  (l) => l.some((p) => p.status?.containerStatuses?.[0]?.containerID !== undefined),
  'the orphan container to run',
);
const pid = Number(pod?.status?.containerStatuses?.[0]?.containerID?.replace('process://', ''));
process.stdout.write(`${JSON.stringify({ pid })}\n`);
setInterval(() => undefined, 60_000);
