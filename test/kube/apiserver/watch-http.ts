// Watch over HTTP: newline-delimited JSON events on a chunked response, one write per event, with
// resourceVersion replay, selectors (objects leaving the selector arrive as DELETED), BOOKMARKs,
// timeoutSeconds, Table rendering, and 410 Expired as an ERROR event.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Api, Target } from './api.js';
import { gone, toApiError } from './errors.js';
import { apiVersionOf } from './registry.js';
import { parseFieldSelector, parseLabelSelector, type Matcher } from './selectors.js';
import type { StoreEvent, StoreWatch } from './store.js';
import { toTable, wantsTable } from './table.js';
import type { KubeObject } from './types.js';

/** Server-wide watch settings. */
export interface WatchSettings {
  /** How often a watch with allowWatchBookmarks gets a BOOKMARK. */
  bookmarkIntervalMs: number;
  /** Registers an open watch so the server can end it (dropWatches, stop). */
  track: (end: () => void) => () => void;
}

type WireType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** What a watcher with a selector sees of a change: transitions across the selector become ADDED/DELETED. */
export function visibleEvent(
  ev: StoreEvent,
  match: Matcher,
): { type: WireType; object: KubeObject } | undefined {
  const now = match(ev.object);
  if (ev.type !== 'MODIFIED' || !ev.old) return now ? { type: ev.type, object: ev.object } : undefined;
  const before = match(ev.old);
  if (now) return { type: before ? 'MODIFIED' : 'ADDED', object: ev.object };
  return before ? { type: 'DELETED', object: ev.object } : undefined;
}

/** Serves one watch request until the client leaves, the timeout passes or the server ends it. */
export function serveWatch(
  api: Api,
  t: Target,
  q: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
  s: WatchSettings,
): void {
  const labels = parseLabelSelector(q.get('labelSelector') ?? undefined);
  const fields = parseFieldSelector(q.get('fieldSelector') ?? undefined);
  const match: Matcher = (o) =>
    labels(o) && fields(o) && (t.name === undefined || o.metadata.name === t.name);
  const table = wantsTable(req.headers.accept);
  const include = q.get('includeObject') ?? 'Metadata';
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  const timers: NodeJS.Timeout[] = [];
  let watch: StoreWatch | undefined;
  let ended = false;
  const write = (type: WireType, object: unknown): void => {
    if (!ended) res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const end = (): void => {
    if (ended) return;
    ended = true;
    watch?.stop();
    for (const timer of timers) clearTimeout(timer);
    untrack();
    res.end();
  };
  const untrack = s.track(end);
  const render = (o: KubeObject): unknown =>
    table ? toTable(t.type, [api.present(o, t)], api.store.now(), include) : api.present(o, t);
  const bookmark = (annotations?: Record<string, string>): void =>
    write('BOOKMARK', {
      kind: t.type.kind,
      apiVersion: apiVersionOf(t.type.group, t.version),
      metadata: { resourceVersion: String(api.store.currentRv()), ...(annotations ? { annotations } : {}) },
    });
  const deliver = (ev: StoreEvent): void => {
    const v = visibleEvent(ev, match);
    if (v) write(v.type, render(v.object));
  };
  const expire = (rv: number): void => {
    write('ERROR', gone(rv).status);
    end();
  };
  req.on('close', end);
  res.on('close', end);
  try {
    const rv = q.get('resourceVersion') ?? undefined;
    const initial = q.get('sendInitialEvents') === 'true';
    watch = api.store.watch(
      t.type,
      t.type.namespaced ? t.namespace : undefined,
      initial ? '' : rv,
      deliver,
      expire,
    );
    if (initial) bookmark({ 'k8s.io/initial-events-end': 'true' });
  } catch (err) {
    write('ERROR', toApiError(err).status);
    end();
    return;
  }
  if (q.get('allowWatchBookmarks') === 'true') {
    const tick = (): void => {
      bookmark();
      timers[0] = setTimeout(tick, s.bookmarkIntervalMs);
    };
    timers[0] = setTimeout(tick, s.bookmarkIntervalMs);
  }
  const timeout = Number(q.get('timeoutSeconds') ?? 0);
  if (timeout > 0) timers.push(setTimeout(end, timeout * 1000));
}
