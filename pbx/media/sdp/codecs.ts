import { parse } from 'sdp-transform';
import type { SdpLine } from './lines.js';
import { lineType } from './lines.js';
import type { SdpCodec } from './types.js';

/** RFC 3551 §6 static payload types, used when a format has no `a=rtpmap` (it is optional for these). */
const STATIC: ReadonlyMap<number, SdpCodec> = new Map(
  (
    [
      [0, 'PCMU', 8000],
      [3, 'GSM', 8000],
      [4, 'G723', 8000],
      [8, 'PCMA', 8000],
      // G.722 samples at 16 kHz but its RTP clock is 8000 (RFC 3551 §4.5.2).
      [9, 'G722', 8000],
      [13, 'CN', 8000],
      [18, 'G729', 8000],
      [26, 'JPEG', 90000],
      [31, 'H261', 90000],
      [32, 'MPV', 90000],
      [34, 'H263', 90000],
    ] as const
  ).map(([payloadType, name, clockRate]) => [payloadType, { payloadType, name, clockRate }]),
);

type Rtpmap = { payload: unknown; codec: unknown; rate?: unknown; encoding?: unknown };

/**
 * Codecs per `m=` section, in `m=` format order. sdp-transform parses the rtpmap lines; it is fed only the `m=` and
 * `a=rtpmap:` lines, one per SdpLine, so its sections line up with ours whatever the line endings.
 */
export function codecsBySection(
  lines: readonly SdpLine[],
  formats: readonly (readonly string[])[],
): SdpCodec[][] {
  const wanted = lines
    .map((l) => l.text.replaceAll('\r', ' '))
    .filter((t) => lineType(t) === 'm' || t.startsWith('a=rtpmap:'));
  const media = parse(wanted.join('\r\n')).media;
  return formats.map((fmts, i) => codecsOf(fmts, (media[i]?.rtp ?? []) as Rtpmap[]));
}

function codecsOf(formats: readonly string[], rtpmaps: readonly Rtpmap[]): SdpCodec[] {
  const codecs: SdpCodec[] = [];
  for (const format of formats) {
    if (!/^\d{1,3}$/.test(format) || Number(format) > 127) continue;
    const pt = Number(format);
    const codec =
      fromRtpmap(
        pt,
        rtpmaps.find((r) => Number(r.payload) === pt),
      ) ?? STATIC.get(pt);
    if (codec) codecs.push(codec);
  }
  return codecs;
}

function fromRtpmap(payloadType: number, rtpmap: Rtpmap | undefined): SdpCodec | undefined {
  if (rtpmap === undefined || typeof rtpmap.codec !== 'string' || rtpmap.codec === '') return undefined;
  const clockRate = Number(rtpmap.rate);
  if (!Number.isSafeInteger(clockRate) || clockRate <= 0) return undefined;
  const channels = Number(rtpmap.encoding);
  const codec = { payloadType, name: rtpmap.codec, clockRate };
  return Number.isSafeInteger(channels) && channels > 0 ? { ...codec, channels } : codec;
}

/** True for the RFC 4733 DTMF payload format. */
export function isTelephoneEvent(codec: SdpCodec): boolean {
  return codec.name.toLowerCase() === 'telephone-event';
}
