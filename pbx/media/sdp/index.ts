/**
 * SDP for bypass mode (ARCHITECTURE.md "Media"): describe a body and rewrite only the c=, m= port, a=rtcp and o=
 * fields (and drop ICE lines) so media flows through the relay while every other line passes byte for byte; and, with
 * `media.transcode`, plan transcoding: extend offers with the codecs the relay converts and read the answers.
 */
export { describeSdp } from './describe.js';
export { SdpError } from './errors.js';
export { MAX_BODY_BYTES, MAX_LINES } from './lines.js';
export { MAX_MEDIA } from './describe.js';
export { ICE_ATTRIBUTES } from './ice.js';
export { rewriteSdp } from './rewrite.js';
export { nextOriginVersion } from './version.js';
export { planTranscodeOffer } from './transcode-offer.js';
export { planTranscodeAnswer } from './transcode-answer.js';
export type {
  OfferedLine,
  PayloadAttributeLine,
  TranscodeOffer,
  TranscodeOfferPlan,
} from './transcode-offer.js';
export type { TranscodeAnswerPlan, TranscodedLine } from './transcode-answer.js';
export type { CodecOnLeg, TranscodeCodec } from './transcode-lines.js';
export type { MediaPorts, RewritePlan } from './plan.js';
export type { OriginVersionState } from './version.js';
export type {
  SdpAddressType,
  SdpCodec,
  SdpConnection,
  SdpDescription,
  SdpDirection,
  SdpMedia,
  SdpOrigin,
  SdpRtcp,
} from './types.js';
