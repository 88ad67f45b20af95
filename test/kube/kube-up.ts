// `make kube-up`: runs the in-process Kubernetes API in the foreground for use with kubectl.
// Run as `node test/kube/kube-up.ts` (Node >= 23.6 strips types; the hook below lets the `.js`
// import specifiers of this folder resolve to their `.ts` sources).
import { registerHooks } from 'node:module';
import { resolve } from 'node:path';

registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context);
    } catch (err) {
      const fromTs =
        context.parentURL?.endsWith('.ts') && specifier.startsWith('.') && specifier.endsWith('.js');
      if (!fromTs) throw err;
      return next(specifier.replace(/\.js$/, '.ts'), context);
    }
  },
});

const { startApiServer } = await import('./apiserver/index.js');
const port = Number(process.env.KUBE_PORT ?? 6443);
const kubeconfigPath = resolve(
  process.env.KUBECONFIG_OUT ?? resolve(import.meta.dirname, '../../.kube/config'),
);
const server = await startApiServer({ port, kubeconfigPath });
process.stdout.write(
  `kube-up: API server on ${server.url}\n` +
    `kube-up: kubeconfig written to ${server.kubeconfigPath}\n` +
    `kube-up: try  kubectl --kubeconfig ${server.kubeconfigPath} get namespaces\n` +
    'kube-up: Ctrl-C to stop\n',
);
const shutdown = (): void => {
  void server.stop().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
