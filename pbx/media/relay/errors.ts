import { PbxError } from '../../core/errors.js';

/** A relay socket could not be bound (usually EADDRINUSE: another process holds the port). */
export class MediaBindError extends PbxError {
  /** The port that failed. */
  readonly port: number;
  /** The system error code (`EADDRINUSE`, `EACCES`, …) when there is one. */
  readonly errno: string | undefined;

  constructor(address: string, port: number, cause: Error) {
    super('PBX_ERR_MEDIA_BIND', `cannot bind media port ${address}:${port}: ${cause.message}`, { cause });
    this.name = 'MediaBindError';
    this.port = port;
    this.errno = (cause as NodeJS.ErrnoException).code;
  }
}

/** A media session was asked for something its block or state cannot give (bad listen address, line index, remote). */
export class MediaSessionError extends PbxError {
  constructor(message: string) {
    super('PBX_ERR_MEDIA_SESSION', message);
    this.name = 'MediaSessionError';
  }
}
