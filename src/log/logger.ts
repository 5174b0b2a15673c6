import pino from 'pino';
import { maskAddresses, maskDeep } from './address-mask.js';

export type Logger = pino.Logger;

/** Log lines held in memory while stderr cannot take them (a full disk); past this they are dropped. */
const MAX_UNWRITTEN_LOG_BYTES = 1024 * 1024;

/**
 * stderr as a destination that never stops the service: with stderr on a full disk, pino's
 * destination emitted an unhandled ENOSPC and the server died. Its lines are now held (up to 1 MB,
 * then dropped) and written once the disk has room again.
 */
function stderrDestination(): pino.DestinationStream {
  const destination = pino.destination({ dest: 2, sync: true, maxLength: MAX_UNWRITTEN_LOG_BYTES });
  destination.on('error', () => {
    // Nowhere left to report it: stderr itself is what failed. The service goes on.
  });
  return destination;
}

/**
 * Structured logs to stderr, so stdout stays clean for command output such as `render`. Every
 * address in a log line is masked (address-mask.ts): the fields, the errors and the message.
 */
export function createLogger(level = 'info', destination: pino.DestinationStream = stderrDestination()): Logger {
  return pino(
    {
      level,
      base: undefined,
      formatters: {
        log: (object) => maskDeep(object) as Record<string, unknown>,
        bindings: (bindings) => maskDeep(bindings) as pino.Bindings,
      },
      hooks: {
        logMethod(args, method) {
          const masked = args.map((arg: unknown) => (typeof arg === 'string' ? maskAddresses(arg) : arg));
          method.apply(this, masked as Parameters<pino.LogFn>);
        },
      },
    },
    destination,
  );
}
