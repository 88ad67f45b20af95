import { describe, expect, it } from 'vitest';
import { aorOf, InvalidAor } from '../../pbx/registry/index.js';

describe('aorOf (RFC 3261 §10.3 step 5)', () => {
  it.each([
    ['sip:alice@example.com', 'sip:alice@example.com'],
    ['sip:alice@EXAMPLE.COM', 'sip:alice@example.com'],
    ['sip:Alice@example.com', 'sip:Alice@example.com'],
    ['sip:alice@example.com:5060', 'sip:alice@example.com'],
    ['sip:alice:secret@example.com;transport=tcp;user=phone?subject=x', 'sip:alice@example.com'],
    ['sip:%61lice@example.com', 'sip:alice@example.com'],
    ['sips:alice@Example.com', 'sips:alice@example.com'],
    ['<sip:alice@example.com>', 'sip:alice@example.com'],
    ['  sip:alice@example.com.  ', 'sip:alice@example.com'],
    ['SIP:bob@[2001:DB8::1]:5061', 'sip:bob@[2001:db8::1]'],
    ['sip:example.com', 'sip:example.com'],
    ['tel:+1-212-555-0100', 'tel:+12125550100'],
    ['tel:+1 (212) 555.0100;phone-context=example.com', 'tel:+12125550100'],
    ['tel:7042;phone-context=EXAMPLE.com', 'tel:7042'],
  ])('%s -> %s', (input, want) => {
    expect(aorOf(input)).toBe(want);
    expect(aorOf(want)).toBe(want);
  });

  it.each(['mailto:alice@example.com', 'not a uri', 'sip:', 'sip:alice@bad host'])('rejects %s', (input) => {
    expect(() => aorOf(input)).toThrow(InvalidAor);
    expect(() => aorOf(input)).toThrow(expect.objectContaining({ code: 'PBX_ERR_REGISTRY_BAD_AOR' }));
  });
});
