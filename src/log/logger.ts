import pino from 'pino';

export type Logger = pino.Logger;

/** Log lines held in memory while stderr cannot take them (a full disk); past this they are dropped. */
const MAX_UNWRITTEN_LOG_BYTES = 1024 * 1024;

/**
 * Structured logs to stderr, so stdout stays clean for command output such as `render`. A log that
 * cannot be written never stops the service: with stderr on a full disk, pino's destination emitted
 * an unhandled ENOSPC and the server died. Its lines are now held (up to 1 MB, then dropped) and
 * written once the disk has room again.
 */
export function createLogger(level = 'info'): Logger {
  const destination = pino.destination({ dest: 2, sync: true, maxLength: MAX_UNWRITTEN_LOG_BYTES });
  destination.on('error', () => {
    // Nowhere left to report it: stderr itself is what failed. The service goes on.
  });
  return pino({ level, base: undefined }, destination);
}
