/** Shared-state contracts (ARCHITECTURE.md "Shared state"): both backends implement these, async throughout. */

/** Where a call lives: the pod that set it up and the SIP address in-dialog requests are forwarded to. */
export interface CallOwner {
  /** Pod name (`POD_NAME`), or the host name of a standalone pbx. */
  readonly pod: string;
  /** `host:port` of the owner's SIP listener. */
  readonly sipAddress: string;
}

/** One B2BUA call as the registry knows it: our id, both legs' SIP Call-IDs, its owner and start. */
export interface CallEntry {
  /** Internal call id (the pbx's own, not a SIP Call-ID). */
  readonly callId: string;
  /** SIP Call-IDs of the A-leg (caller side) and the B-leg (callee side). */
  readonly legs: { readonly a: string; readonly b: string };
  readonly owner: CallOwner;
  /** Milliseconds since the Unix epoch. */
  readonly startTime: number;
}

/** The drain state machine of a pod (ARCHITECTURE.md "Drain"). */
export type PodRunState = 'running' | 'draining' | 'drained';

/** A pod's heartbeat: what it is doing and where it listens; expires unless re-set. */
export interface PodState {
  readonly state: PodRunState;
  readonly sipAddress: string;
  /** Milliseconds since the Unix epoch, as the pod wrote it. */
  readonly updatedAt: number;
}

/** A pod's heartbeat together with its name, as listed by `listPods`. */
export interface PodInfo extends PodState {
  readonly pod: string;
}

/** Call-ID -> call map shared by all pods, with per-pod active sets and pod heartbeats. */
export interface CallRegistry {
  /** Maps both legs' Call-IDs to the entry and adds it to its owner's active set, atomically. */
  register(entry: CallEntry): Promise<void>;
  /** The live call that has `sipCallId` as one of its legs' Call-IDs. */
  lookup(sipCallId: string): Promise<CallEntry | undefined>;
  /** Removes a call (by entry, or by internal call id) and both Call-ID keys atomically; false if absent. */
  remove(call: CallEntry | string): Promise<boolean>;
  /** Extends the TTL of these live calls; never re-creates removed or expired ones. Returns how many were live. */
  refresh(entries: readonly CallEntry[]): Promise<number>;
  /** Number of live calls owned by `pod`. */
  activeCalls(pod: string): Promise<number>;
  /** Live calls owned by `pod`, oldest first. */
  listCalls(pod: string): Promise<CallEntry[]>;
  /** Makes the registry hold exactly `live` for `pod`: re-publishes them and drops the pod's other calls. */
  resync(pod: string, live: readonly CallEntry[]): Promise<void>;
  /** Writes the pod's heartbeat; it expires after the pod-state TTL unless written again. */
  setPodState(pod: string, state: PodState): Promise<void>;
  /** The pod's unexpired heartbeat. */
  getPodState(pod: string): Promise<PodState | undefined>;
  /** Every pod with an unexpired heartbeat, sorted by name. */
  listPods(): Promise<PodInfo[]>;
  /** Releases timers and connections; safe to call twice. */
  close(): Promise<void>;
}

/** Where a REGISTER came from (RFC 3261 §18.2.1 `received`/`rport`), for UAs behind NAT. */
export interface ReceivedFrom {
  readonly transport: string;
  readonly address: string;
  readonly port: number;
}

/** One contact of a REGISTER request (RFC 3261 §10.3 step 7); `expires` in seconds, 0 removes. */
export interface ContactUpdate {
  readonly uri: string;
  readonly expires: number;
  readonly q?: number;
  readonly received?: ReceivedFrom;
  /** `+sip.instance` (RFC 5626), stored as given. */
  readonly instance?: string;
  /** Path header values (RFC 3327), stored as given. */
  readonly path?: readonly string[];
}

/** A stored contact binding of an address-of-record. */
export interface Binding {
  readonly uri: string;
  /** Milliseconds (registry clock) at which the binding lapses. */
  readonly expiresAt: number;
  readonly callId: string;
  readonly cseq: number;
  /** Milliseconds (registry clock) of the REGISTER that last wrote it; orders equal-q bindings. */
  readonly registeredAt: number;
  readonly q?: number;
  readonly received?: ReceivedFrom;
  readonly instance?: string;
  readonly path?: readonly string[];
}

/** The bindings of one address-of-record, as handed to `LocationStore.resync`. */
export interface AorBindings {
  readonly aor: string;
  readonly bindings: readonly Binding[];
}

/** The registrar's location service (RFC 3261 §10.3): address-of-record -> contact bindings. */
export interface LocationStore {
  /** Applies a REGISTER's contacts (§10.3 steps 6-7) atomically; rejects with RegisterOutOfOrder. */
  register(aor: string, updates: readonly ContactUpdate[], callId: string, cseq: number): Promise<Binding[]>;
  /** `Contact: *` with `Expires: 0` (§10.3 step 6): removes every binding, or none if out of order. */
  removeAll(aor: string, callId: string, cseq: number): Promise<void>;
  /** Unexpired bindings, highest q first, then most recently registered. */
  lookup(aor: string): Promise<Binding[]>;
  /** Number of unexpired bindings over all AORs (`sippbx_registrations_active`). */
  count(): Promise<number>;
  /** Re-publishes locally known bindings, keeping any stored binding that is newer. */
  resync(entries: readonly AorBindings[]): Promise<void>;
  /** Removes expired bindings now (also runs on a timer); returns how many went. */
  sweep(): Promise<number>;
  /** Releases timers and connections; safe to call twice. */
  close(): Promise<void>;
}
