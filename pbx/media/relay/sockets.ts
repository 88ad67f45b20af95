import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { MediaBindError } from './errors.js';
import type { MediaSocketFactory } from './types.js';

/** node:dgram sockets. */
export const dgramSocketFactory: MediaSocketFactory = { createUdpSocket: (options) => createSocket(options) };

/**
 * Binds one UDP socket on address:port; rejects with MediaBindError and leaves nothing open on failure.
 * With `reusePort` (SO_REUSEPORT) a latched flow can later open a connected socket on the same port (flow.ts).
 * Linux lets a socket join the SO_REUSEPORT group of any other socket of the same user on that port, so a
 * port another process holds with SO_REUSEPORT (a second pbx on an overlapping range, say) would be shared
 * silently and its RTP split between the two; an exclusive probe bind first makes that EADDRINUSE too, as
 * it is without SO_REUSEPORT and on the native engine.
 */
export async function bindUdp(
  factory: MediaSocketFactory,
  address: string,
  port: number,
  reusePort: boolean,
): Promise<Socket> {
  // The probe asks the kernel, it is no relay socket: straight node:dgram, not the injected factory.
  if (reusePort) closeQuietly(await bindOne(dgramSocketFactory, address, port, false));
  return bindOne(factory, address, port, reusePort);
}

function bindOne(
  factory: MediaSocketFactory,
  address: string,
  port: number,
  reusePort: boolean,
): Promise<Socket> {
  const type = address.includes(':') ? 'udp6' : 'udp4';
  const socket = factory.createUdpSocket(reusePort ? { type, reusePort } : { type });
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      closeQuietly(socket);
      reject(new MediaBindError(address, port, error));
    };
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * Whether relay ports are bound with SO_REUSEPORT and latched flows get a connected socket: only on Linux,
 * whose UDP lookup gives a connected member of a reuseport group exactly its 4-tuple's datagrams (kernel fix
 * "udp: correct reuseport selection with connected sockets", 2019; test/media/relay.test.ts checks it);
 * other systems keep sending from the relay socket.
 */
export const connectedFlowsByDefault = process.platform === 'linux';

/** Binds `count` consecutive ports from `first`; on any failure closes those that did bind and rejects. */
export async function bindConsecutive(
  factory: MediaSocketFactory,
  address: string,
  first: number,
  count: number,
  reusePort: boolean,
): Promise<Socket[]> {
  const attempts = [];
  for (let i = 0; i < count; i++) attempts.push(bindUdp(factory, address, first + i, reusePort));
  const results = await Promise.allSettled(attempts);
  const failure = results.find((r) => r.status === 'rejected');
  if (failure === undefined) return results.map((r) => (r as PromiseFulfilledResult<Socket>).value);
  const bound = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  await Promise.all(bound.map(closeUdp));
  throw failure.reason;
}

/** Closes a socket; resolves once the port is free again, at once when it was already closed. */
export function closeUdp(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

/** Closes a socket now, ignoring one that is already closed. */
export function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // already closed: nothing to release
  }
}
