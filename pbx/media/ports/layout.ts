import { PortPoolConfigError } from './errors.js';
import type { PortPoolOptions } from './types.js';

/** Where the blocks of a range lie and how many may be leased at once. */
export interface BlockLayout {
  /** Start of block 0 (the first multiple of `size` at or after the range start). */
  readonly first: number;
  /** Ports per block. */
  readonly size: number;
  /** Blocks that fit whole in [start, end). */
  readonly count: number;
  /** Blocks leasable at once. */
  readonly maxLeased: number;
}

const isPort = (v: number): boolean => Number.isInteger(v) && v >= 1 && v <= 65536;

/** Validates the options and aligns the range to the block size; throws PortPoolConfigError. */
export function blockLayout(options: PortPoolOptions): BlockLayout {
  const { start, end } = options;
  const size = options.portsPerCall ?? 8;
  if (!isPort(start) || !isPort(end) || start >= end) {
    throw new PortPoolConfigError(`port range [${start}, ${end}) is not a valid range of UDP ports`);
  }
  if (!Number.isInteger(size) || size < 4 || size % 4 !== 0) {
    throw new PortPoolConfigError(`portsPerCall must be a positive multiple of 4 (got ${size})`);
  }
  const first = Math.ceil(start / size) * size;
  const count = Math.max(0, Math.floor((end - first) / size));
  if (count === 0)
    throw new PortPoolConfigError(`port range [${start}, ${end}) holds no aligned block of ${size}`);
  const maxCalls = options.maxCalls ?? count;
  if (!Number.isInteger(maxCalls) || maxCalls < 1) {
    throw new PortPoolConfigError(`maxCalls must be a positive integer (got ${maxCalls})`);
  }
  return { first, size, count, maxLeased: Math.min(maxCalls, count) };
}
