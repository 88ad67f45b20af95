/** SIP message model, parser, serializer, URI and header grammar — pure functions, no I/O. */
export { SipParseError } from './errors.js';
export { DEFAULT_LIMITS } from './limits.js';
export type { ParseLimits } from './limits.js';
export type { Params } from './grammar.js';
export { splitList, formatParams, unquote, isToken } from './grammar.js';
export type { SipHeader, SipMessage, SipRequest, SipResponse } from './message.js';
export {
  byteString,
  hdr,
  header,
  headerCount,
  headerKey,
  headerLines,
  headerSpelling,
  prependHeader,
  utf8Text,
  withBody,
  withHeader,
  withoutHeader,
} from './message.js';
export { parseMessage, requestFault } from './parser.js';
export { serialize, startLine } from './serializer.js';
export { bareHost, formatUri, isSipUri, parseUri, unescapeUser, uriHost } from './uri.js';
export type { OtherUri, SipUri, TelUri, Uri } from './uri.js';
export {
  callId,
  contacts,
  contentLength,
  contentType,
  cseq,
  expiresHeader,
  formatNameAddr,
  formatVia,
  fromHeader,
  maxForwards,
  optionTags,
  parseCSeq,
  parseNameAddr,
  parseViaLine,
  rack,
  routeSet,
  rseq,
  tagOf,
  toHeader,
  topVia,
  viaBranch,
  vias,
} from './headers.js';
export type { ContactEntry, CSeq, NameAddr, RAck, Via } from './headers.js';
export { validateRequest, validateResponse } from './validate.js';
export type { SipRejection, ValidateOptions } from './validate.js';
export {
  BRANCH_COOKIE,
  UDP_REQUEST_LIMIT,
  createRequest,
  createResponse,
  reasonPhrase,
  requestTransport,
  responseDestination,
  stampVia,
  viaValue,
} from './build.js';
export type {
  MessageSource,
  RequestSpec,
  RequestTransportChoice,
  ResponseDestination,
  ResponseOptions,
} from './build.js';
