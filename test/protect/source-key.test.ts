import { describe, expect, it } from 'vitest';
import { sourceKey } from '../../pbx/protect/index.js';

describe('sourceKey', () => {
  it.each([
    ['IPv4 as is', '192.0.2.1', '192.0.2.1'],
    ['IPv4-mapped IPv6 (dotted)', '::ffff:192.0.2.1', '192.0.2.1'],
    ['IPv4-mapped IPv6 (hex)', '::ffff:c000:201', '192.0.2.1'],
    ['IPv6 compressed', '2001:db8::1', '2001:db8:0:0::/64'],
    ['IPv6 full, upper case, leading zeros', '2001:0DB8:0000:0001:AAAA:bbbb:cccc:dddd', '2001:db8:0:1::/64'],
    ['IPv6 with zone id', 'fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['loopback', '::1', '0:0:0:0::/64'],
    ['unspecified', '::', '0:0:0:0::/64'],
    ['trailing ::', '1:2:3:4:5:6:7::', '1:2:3:4::/64'],
    ['embedded IPv4, not mapped', '64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['not an IP', 'example.invalid', 'example.invalid'],
    ['long garbage is cut', 'x'.repeat(1000), 'x'.repeat(64)],
  ])('%s: %s -> %s', (_name, address, key) => {
    expect(sourceKey(address)).toBe(key);
  });

  it('maps every address of one /64 to one key and the next /64 to another', () => {
    const a = sourceKey('2001:db8:1:2:1234:5678:9abc:def0');
    expect(sourceKey('2001:db8:1:2::1')).toBe(a);
    expect(sourceKey('2001:db8:1:3::1')).not.toBe(a);
  });
});
