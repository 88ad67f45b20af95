import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** An open line inside the addon (a Node-API external). */
export type NativeHandle = object & { readonly __nativeLine: unique symbol };

/** What the addon returns instead of a handle when a port cannot be bound. */
export interface NativeBindFailure {
  readonly code: string;
  readonly port: number;
  readonly message: string;
}

/** The C functions of pbx/media/relay/native/relay.c; legs are 0 = A, 1 = B; flows 0 = RTP, 1 = RTCP. */
export interface NativeRelayBinding {
  start(onDiverted: (lineId: number, fromLeg: number, packet: Buffer, rtcp: boolean) => void): void;
  open(id: number, family: 4 | 6, address: string, firstPort: number): NativeHandle | NativeBindFailure;
  setRemote(
    line: NativeHandle,
    leg: number,
    address: string,
    rtpPort: number,
    rtcpPort: number,
    rtcpMux: boolean,
  ): void;
  remote(line: NativeHandle, leg: number, flow: number): [string, number, boolean];
  setDivert(line: NativeHandle, leg: number, rtp: boolean, rtcp: boolean): void;
  forward(line: NativeHandle, fromLeg: number, packet: Buffer): void;
  forwardRtcp(line: NativeHandle, fromLeg: number, packet: Buffer): void;
  drop(line: NativeHandle, reason: number): void;
  counters(line: NativeHandle, into: Float64Array): void;
  close(line: NativeHandle): void;
}

/** File name of the addon `make build` compiles (scripts/build-native.sh) into dist/native/. */
export const ADDON_FILE = 'sippbx-relay.node';

/** Where the addon is looked for: beside the compiled dist/ tree, then from the sources (tests run those). */
const CANDIDATES = [`../../../native/${ADDON_FILE}`, `../../../dist/native/${ADDON_FILE}`];

/** The loaded addon, or why it is not available. */
export type NativeLoad =
  | { readonly ok: true; readonly binding: NativeRelayBinding; readonly path: string }
  | { readonly ok: false; readonly reason: string };

let loaded: NativeLoad | undefined;

/**
 * Loads the native relay once per process (Linux only). Callers fall back to the Node engine, or fail
 * when the native one was asked for explicitly, with `reason` in the message.
 */
export function loadNativeRelay(): NativeLoad {
  loaded ??= load();
  return loaded;
}

function load(): NativeLoad {
  if (process.platform !== 'linux') {
    return { ok: false, reason: `the native relay is Linux-only (this is ${process.platform})` };
  }
  const path = CANDIDATES.map((c) => fileURLToPath(new URL(c, import.meta.url))).find((p) => existsSync(p));
  if (path === undefined) {
    return { ok: false, reason: `${ADDON_FILE} is not built (make build compiles it into dist/native/)` };
  }
  try {
    const binding = createRequire(import.meta.url)(path) as NativeRelayBinding;
    return { ok: true, binding, path };
  } catch (error) {
    return { ok: false, reason: `cannot load ${path}: ${(error as Error).message}` };
  }
}
