// Maps RTP timestamps and durations from one clock rate to another (8000 <-> 48000). The input
// timestamp is unwrapped into a running count (signed 32-bit steps, so reordering and the 2^32 wrap
// are fine), scaled, and added to the output stream's own base, so the output starts at `base`
// and advances in the target clock without a jump when the input wraps.

/** Converts a stream's timestamps to another clock. */
export interface TimestampMapper {
  /** Output timestamp (uint32) for input timestamp `input` (uint32). */
  map(input: number): number;
}

/** Creates a mapper; the first input maps to `base` (default: the first input's value). */
export function createTimestampMapper(fromRate: number, toRate: number, base?: number): TimestampMapper {
  let started = false;
  let last = 0;
  let elapsed = 0;
  let outputBase = 0;
  return {
    map(input: number): number {
      if (!started) {
        started = true;
        last = input >>> 0;
        outputBase = (base ?? input) >>> 0;
      }
      elapsed += (input - last) | 0;
      last = input >>> 0;
      return (outputBase + scaleDuration(elapsed, fromRate, toRate)) >>> 0;
    },
  };
}

/** Converts a duration in `fromRate` ticks to `toRate` ticks, rounding toward minus infinity. */
export function scaleDuration(ticks: number, fromRate: number, toRate: number): number {
  return Math.floor((ticks * toRate) / fromRate);
}
