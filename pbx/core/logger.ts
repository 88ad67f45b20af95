import { pino } from 'pino';
import type { Logger } from 'pino';

/** Log levels of the config (`logging.level`); `warning` is pino's `warn`. */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

/** The pino level for a config level. */
export function pinoLevel(level: LogLevel): string {
  return level === 'warning' ? 'warn' : level;
}

/** A JSON logger to stdout (or `destination`, for tests) at the configured level. */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: pinoLevel(level),
    base: { service: 'sippbx' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label === 'warn' ? 'warning' : label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

export type { Logger };
