/** Call events and CDR fields (CONTRACTS.md "Call events and CDR"); names are a public contract. */

/** The event types. */
export type CallEventType = 'call.started' | 'call.answered' | 'call.ended';

/** How a call attempt ended. */
export type CallResult = 'answered' | 'busy' | 'no-answer' | 'cancelled' | 'failed' | 'rejected';

/** Who ended the call. */
export type EndedBy = 'caller' | 'callee' | 'system';

/** The two legs as events describe them. */
export interface EventLegs {
  readonly a: {
    readonly callId: string;
    readonly from: string;
    readonly to: string;
    readonly source: string;
  };
  readonly b: { readonly callId: string; readonly target: string };
}

/** Fields every event carries. */
export interface CallEventBase {
  readonly type: CallEventType;
  /** Unique per event (receivers de-duplicate on it). */
  readonly id: string;
  /** ISO 8601 time the event happened. */
  readonly timestamp: string;
  /** The pbx's own id of the call. */
  readonly callId: string;
  readonly legs: EventLegs;
}

/** The CDR fields, carried by `call.ended` and written to the CDR file. */
export interface CdrFields {
  readonly startTime: string;
  readonly answerTime: string | null;
  readonly endTime: string;
  readonly durationSeconds: number;
  readonly billableSeconds: number;
  readonly result: CallResult;
  readonly sipCode: number;
  readonly endedBy: EndedBy;
  readonly reason: string;
}

/** A call.started or call.answered event. */
export interface CallProgressEvent extends CallEventBase {
  readonly type: 'call.started' | 'call.answered';
}

/** A call.ended event. */
export interface CallEndedEvent extends CallEventBase, CdrFields {
  readonly type: 'call.ended';
}

/** Any call event. */
export type CallEvent = CallProgressEvent | CallEndedEvent;

/** Where the B2BUA hands its events (logs, CDRs and webhooks subscribe behind it). */
export interface EventSink {
  emit(event: CallEvent): void;
}
