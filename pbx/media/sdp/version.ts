/** What a leg remembers between offers to number its o= sess-version. */
export interface OriginVersionState {
  readonly lastInput: Buffer;
  readonly lastVersion: number;
}

/**
 * The o= sess-version for the next SDP on a leg (RFC 3264 §8: a changed description must carry version + 1, an
 * unchanged one the same version): `initial` the first time, the last version again for the same input, +1 otherwise.
 */
export function nextOriginVersion(
  prev: OriginVersionState | undefined,
  input: Buffer,
  initial: number,
): number {
  if (prev === undefined) return initial;
  return prev.lastInput.equals(input) ? prev.lastVersion : prev.lastVersion + 1;
}
