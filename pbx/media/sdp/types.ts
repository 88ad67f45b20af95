/** Media direction attribute (RFC 3264 §5.1, RFC 8866 §6.7). */
export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** Address type of a `c=`/`o=` line that the relay can speak. */
export type SdpAddressType = 'IP4' | 'IP6';

/** A connection address (`c=IN <addrtype> <address>`); a multicast `/ttl` suffix is not part of `address`. */
export interface SdpConnection {
  readonly addrType: SdpAddressType;
  readonly address: string;
}

/** The `o=` line fields (RFC 8866 §5.2); ids and versions stay strings because they may exceed 2^53. */
export interface SdpOrigin {
  readonly username: string;
  readonly sessionId: string;
  readonly sessionVersion: string;
  readonly netType: string;
  readonly addrType: string;
  readonly address: string;
}

/** A codec offered on a media line, from `a=rtpmap` or the RFC 3551 static payload type table. */
export interface SdpCodec {
  readonly payloadType: number;
  readonly name: string;
  readonly clockRate: number;
  readonly channels?: number;
}

/** An explicit `a=rtcp:` attribute (RFC 3605). */
export interface SdpRtcp {
  readonly port: number;
  readonly connection?: SdpConnection;
}

/** One `m=` section as the relay needs to see it. */
export interface SdpMedia {
  /** Position of the `m=` line, 0-based. */
  readonly index: number;
  readonly type: string;
  /** 0 means a rejected or disabled stream (RFC 3264 §6). */
  readonly port: number;
  /** The `/<number of ports>` suffix of the port, 1 when absent. */
  readonly portCount: number;
  readonly proto: string;
  readonly formats: readonly string[];
  /** Media-level `c=`, else session-level; absent only for rejected streams. */
  readonly connection?: SdpConnection;
  readonly family?: SdpAddressType;
  readonly rtcp?: SdpRtcp;
  readonly rtcpMux: boolean;
  /** ICE attributes apply to this stream (media-level or session-level `a=ice-ufrag`/`a=candidate`). */
  readonly ice: boolean;
  /** Media-level direction over session-level, default sendrecv. */
  readonly direction: SdpDirection;
  /** Put on hold by the sender: sendonly/inactive, or the RFC 2543 `c=0.0.0.0` (when it is not an ICE placeholder). */
  readonly onHold: boolean;
  readonly rejected: boolean;
  /** Codecs in `m=` order (payload types without rtpmap that are not static are left out). */
  readonly codecs: readonly SdpCodec[];
  /** The `telephone-event` (RFC 4733) entries among the codecs. */
  readonly telephoneEvents: readonly SdpCodec[];
}

/** What describeSdp reports about a body. */
export interface SdpDescription {
  readonly origin?: SdpOrigin;
  /** Session-level `c=`. */
  readonly connection?: SdpConnection;
  /** Session-level direction attribute, if any. */
  readonly direction?: SdpDirection;
  readonly media: readonly SdpMedia[];
}
