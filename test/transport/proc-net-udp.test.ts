import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  createTransport,
  procLocalAddress,
  procNetUdpPath,
  readUdpDrops,
  udpDropsFromProc,
} from '../../pbx/transport/index.js';

// Lines as Linux 6.x prints them (net/ipv4/udp.c udp4_format_sock, net/ipv6/datagram.c __ip6_dgram_sock_seq_show).
const UDP4 = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1345: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 910837 2 000000007b591d11 17
 1346: 00000000:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 910838 2 000000007b591d12 5
 5139: 0100007F:4E20 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 911939 2 00000000ca2280fb 0
`;
const UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  101: 00000000000000000000000001000000:13C4 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 912000 2 0000000012345678 3
  102: 00000000000000000000000000000000:13C4 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 912001 2 0000000012345679 9
  103: B80D0120000000000000000001000000:13C4 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 912002 2 000000001234567a 4
`;

describe('/proc/net/udp drops', () => {
  it.each([
    ['127.0.0.1', 5060, '0100007F:13C4'],
    ['0.0.0.0', 5060, '00000000:13C4'],
    ['10.1.2.3', 80, '0302010A:0050'],
    ['::1', 5060, '00000000000000000000000001000000:13C4'],
    ['::', 5060, '00000000000000000000000000000000:13C4'],
    ['2001:db8::1', 5060, 'B80D0120000000000000000001000000:13C4'],
  ])('local_address of %s:%i is %s', (address, port, expected) => {
    expect(procLocalAddress({ address, port })).toBe(expected);
  });

  it('prints words in network order on a big-endian host', () => {
    expect(procLocalAddress({ address: '127.0.0.1', port: 5060 }, false)).toBe('7F000001:13C4');
  });

  it.each([
    ['127.0.0.1', 5060, UDP4, 17],
    ['0.0.0.0', 5060, UDP4, 5],
    ['127.0.0.1', 20000, UDP4, 0],
    ['127.0.0.1', 5061, UDP4, undefined],
    ['::1', 5060, UDP6, 3],
    ['::', 5060, UDP6, 9],
    ['2001:db8::1', 5060, UDP6, 4],
    ['::1', 5060, '', undefined],
    ['not-an-ip', 5060, UDP4, undefined],
  ])('drops of %s:%i', (address, port, text, expected) => {
    expect(udpDropsFromProc(text, { address, port })).toBe(expected);
  });

  it('ignores truncated and non-numeric lines', () => {
    const text = ' 1: 0100007F:13C4 00000000:0000 07\n 2: 0100007F:13C4 a b c d e f g h i j x\n';
    expect(udpDropsFromProc(text, { address: '127.0.0.1', port: 5060 })).toBeUndefined();
  });

  it('picks the file by family', () => {
    expect(procNetUdpPath('127.0.0.1')).toBe('/proc/net/udp');
    expect(procNetUdpPath('::1')).toBe('/proc/net/udp6');
  });

  it.runIf(existsSync('/proc/net/udp'))('reads 0 drops for a fresh socket of this process', async () => {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    try {
      expect(await readUdpDrops({ address: '127.0.0.1', port: socket.address().port })).toBe(0);
    } finally {
      socket.close();
    }
  });
});

describe('UDP receive buffer', () => {
  it('asks for sip.udpReceiveBufferBytes and reports what the kernel granted', async () => {
    const transport = createTransport({
      listen: '127.0.0.1',
      port: 0,
      tcp: false,
      udpReceiveBufferBytes: 65536,
    });
    expect(transport.udpReceiveBuffer()).toBeUndefined();
    await transport.start();
    try {
      const buffer = transport.udpReceiveBuffer();
      expect(buffer?.requestedBytes).toBe(65536);
      // Linux doubles the request for bookkeeping overhead (socket(7)); other kernels grant it as is.
      expect(buffer?.grantedBytes).toBeGreaterThanOrEqual(65536);
    } finally {
      await transport.stop();
    }
  });

  it('is undefined without UDP', async () => {
    const transport = createTransport({ listen: '127.0.0.1', port: 0, udp: false });
    await transport.start();
    try {
      expect(transport.udpReceiveBuffer()).toBeUndefined();
    } finally {
      await transport.stop();
    }
  });
});
