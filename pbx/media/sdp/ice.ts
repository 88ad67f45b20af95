/**
 * ICE attributes (RFC 8839 §5) removed in bypass mode. The far side's candidates name addresses the other leg can
 * never reach through us and would make an ICE agent try to bypass the relay (and leak the party's addresses); the
 * relay is the only candidate, its address is in `c=`/`m=`, so an endpoint without ICE attributes falls back to
 * plain RTP to it (RFC 8839 §4.2: no ICE attributes = ICE not in use).
 */
export const ICE_ATTRIBUTES: ReadonlySet<string> = new Set([
  'candidate',
  'ice-ufrag',
  'ice-pwd',
  'ice-options',
  'ice-lite',
  'end-of-candidates',
  'remote-candidates',
  'ice-mismatch',
]);

/** Attributes whose presence means ICE is in use for the section (or, at session level, for all). */
export function signalsIce(name: string): boolean {
  return name === 'ice-ufrag' || name === 'candidate';
}
