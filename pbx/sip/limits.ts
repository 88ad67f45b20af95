/** Bounds on the work any one message can cause (ARCHITECTURE.md "A call, as data", step 2). */
export interface ParseLimits {
  /** Largest message accepted, in bytes (config `sip.maxMessageBytes`). */
  readonly maxMessageBytes: number;
  /** Most header lines in one message. */
  readonly maxHeaders: number;
  /** Longest header line (after unfolding), in bytes. */
  readonly maxHeaderLineBytes: number;
  /** Most parameters on one URI, Via or name-addr; also bounds comma-list entries per line. */
  readonly maxUriParams: number;
}

/** The defaults, used where the config says nothing. */
export const DEFAULT_LIMITS: ParseLimits = {
  maxMessageBytes: 65535,
  maxHeaders: 128,
  maxHeaderLineBytes: 8192,
  maxUriParams: 32,
};

/** Most entries accepted in one comma-separated header line (Via, Route, Contact, …). */
export const MAX_LIST_ENTRIES = 64;
