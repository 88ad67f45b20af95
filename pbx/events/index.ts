/** Call events, CDRs and webhook delivery. */
export type {
  CallEndedEvent,
  CallEvent,
  CallEventBase,
  CallEventType,
  CallProgressEvent,
  CallResult,
  CdrFields,
  EndedBy,
  EventLegs,
  EventSink,
} from './types.js';
