import pino from 'pino';

export type Logger = pino.Logger;

/** Structured logs to stderr, so stdout stays clean for command output such as `render`. */
export function createLogger(level = 'info'): Logger {
  return pino({ level, base: undefined }, pino.destination(2));
}
