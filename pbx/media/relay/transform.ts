import type { PacketTransform } from './types.js';

/** Runs a packet transform; one that throws drops the packet instead of taking the process down. */
export function applyTransform(transform: PacketTransform, packet: Buffer): Buffer | null {
  try {
    return transform(packet);
  } catch {
    return null;
  }
}
