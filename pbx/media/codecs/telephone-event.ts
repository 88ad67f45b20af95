// RFC 4733 §2.3 telephone-event payloads: event (8 bits), E|R|volume (8 bits), duration (16 bits) in
// RTP timestamp units of the stream's clock. Moving an event between clocks rescales the duration;
// a duration that no longer fits 16 bits is capped at 0xFFFF (RFC 4733 §2.5.2.3 lets senders split
// longer events into segments; a 8 kHz event longer than 1.36 s exceeds 16 bits at 48 kHz).
import { scaleDuration } from './rtp-clock.js';

/** Size of one named-event block. */
export const EVENT_BLOCK = 4;

/**
 * Copies the `length` bytes of event blocks at `offset` of `packet` to the start of `out`, rescaling
 * each duration from `fromRate` to `toRate`. Returns false if they are not whole blocks or do not fit.
 */
export function convertEventPayload(
  packet: Uint8Array,
  offset: number,
  length: number,
  out: Uint8Array,
  fromRate: number,
  toRate: number,
): boolean {
  if (length === 0 || length % EVENT_BLOCK !== 0 || length > out.length) return false;
  for (let block = 0; block < length; block += EVENT_BLOCK) {
    const at = offset + block;
    const duration = ((packet[at + 2] ?? 0) << 8) | (packet[at + 3] ?? 0);
    const scaled = Math.min(0xffff, scaleDuration(duration, fromRate, toRate));
    out[block] = packet[at] ?? 0;
    out[block + 1] = packet[at + 1] ?? 0;
    out[block + 2] = scaled >> 8;
    out[block + 3] = scaled & 0xff;
  }
  return true;
}
