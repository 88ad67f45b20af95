/**
 * Cluster DNS for pod processes without a DNS server: loaded into every Node container with
 * `NODE_OPTIONS=--import <this file>`, it answers `dns.lookup` (which `net`, `http` and client
 * libraries such as ioredis use) for cluster names from the hosts file the Service proxy keeps
 * (`KUBE_HOSTS_FILE`: JSON `{ "<fqdn>": ["<ip>", ...] }`), trying the pod's search domains like
 * resolv.conf does (`<ns>.svc.cluster.local`, `svc.cluster.local`, `cluster.local`). Other names go
 * to the real resolver.
 */
import dns from 'node:dns';
import fs from 'node:fs';

type Table = Record<string, string[]>;

const file = process.env.KUBE_HOSTS_FILE;
const namespace = process.env.KUBE_POD_NAMESPACE ?? 'default';
const search = [`${namespace}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'];

function table(): Table {
  if (file === undefined) return {};
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Table;
  } catch {
    return {};
  }
}

/** The addresses of a cluster name, or undefined when it is not one. */
function resolve(hostname: string): string[] | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  const t = table();
  for (const candidate of [name, ...search.map((d) => `${name}.${d}`)]) {
    const ips = t[candidate];
    if (ips !== undefined && ips.length > 0) return ips;
  }
  return undefined;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => void;

const original = dns.lookup.bind(dns) as unknown as (host: string, opts: unknown, cb: LookupCallback) => void;
const originalPromise = dns.promises.lookup.bind(dns.promises);

function wantsAll(opts: unknown): boolean {
  return typeof opts === 'object' && opts !== null && (opts as { all?: boolean }).all === true;
}

function lookup(hostname: string, opts: unknown, cb?: LookupCallback): void {
  const callback = (typeof opts === 'function' ? opts : cb) as LookupCallback;
  const options = typeof opts === 'function' ? {} : opts;
  const ips = typeof hostname === 'string' ? resolve(hostname) : undefined;
  if (ips === undefined) {
    original(hostname, options, callback);
    return;
  }
  process.nextTick(() => {
    if (wantsAll(options))
      callback(
        null,
        ips.map((address) => ({ address, family: 4 })),
      );
    else callback(null, ips[0], 4);
  });
}

(dns as unknown as { lookup: typeof lookup }).lookup = lookup;
(dns.promises as unknown as { lookup: unknown }).lookup = (hostname: string, opts?: unknown) => {
  const ips = resolve(hostname);
  if (ips === undefined) return originalPromise(hostname, opts as dns.LookupOptions);
  return Promise.resolve(
    wantsAll(opts) ? ips.map((address) => ({ address, family: 4 })) : { address: ips[0], family: 4 },
  );
};
