// Parses request paths of the REST API into what they address.
/** A request to a resource collection, object or subresource. */
export interface ResourceRoute {
  group: string;
  version: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** Came through the legacy `/watch/` prefix. */
  legacyWatch: boolean;
}

function splitPrefix(segs: string[]): { group: string; version: string; rest: string[] } | undefined {
  if (segs[0] === 'api' && segs[1] !== undefined) return { group: '', version: segs[1], rest: segs.slice(2) };
  if (segs[0] === 'apis' && segs[1] !== undefined && segs[2] !== undefined)
    return { group: segs[1], version: segs[2], rest: segs.slice(3) };
  return undefined;
}

/** The resource route of a path, or undefined when it is not one (discovery, unknown). */
export function parseResourcePath(pathname: string): ResourceRoute | undefined {
  const segs = pathname
    .split('/')
    .filter((s) => s !== '')
    .map(decodeURIComponent);
  const pre = splitPrefix(segs);
  if (!pre || pre.rest.length === 0) return undefined;
  let rest = pre.rest;
  const legacyWatch = rest[0] === 'watch';
  if (legacyWatch) rest = rest.slice(1);
  let namespace: string | undefined;
  const nsSub = rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize');
  if (rest[0] === 'namespaces' && rest.length >= 3 && !nsSub) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  if (resource === undefined || rest.length > 3) return undefined;
  return {
    group: pre.group,
    version: pre.version,
    resource,
    ...(namespace === undefined ? {} : { namespace }),
    ...(name === undefined ? {} : { name }),
    ...(subresource === undefined ? {} : { subresource }),
    legacyWatch,
  };
}
