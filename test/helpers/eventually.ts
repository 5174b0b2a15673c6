import { inspect } from 'node:util';

/** What a probe answers while the awaited thing has not happened yet. */
type NotYet = undefined | null | false;

export interface EventuallyOptions {
  /** How long to keep polling before failing (a loaded machine is slow: be generous). */
  timeoutMs?: number;
  /** The pause between two probes. */
  intervalMs?: number;
}

export interface EventuallyUntil<T> extends EventuallyOptions {
  /** When the probe's value is the one awaited (else: any value but `undefined`, `null`, `false`). */
  holds: (value: T) => boolean;
}

/**
 * Polls `probe` until the thing awaited has happened, then returns the probe's last value; past
 * the deadline it fails with a message naming `what` was awaited and the last value seen. This is
 * how tests wait for a row, a status or a log line: no sleep decides a test. An error thrown by
 * the probe ends the wait at once (a probe throws when waiting longer is pointless, e.g. the
 * process it watches has exited).
 *
 * Without `holds`, the probe answers `undefined`, `null` or `false` for "not yet" and anything
 * else is the value awaited; with `holds`, the probe returns what it sees and `holds` judges it
 * (so the failure shows, say, the whole send status rather than `false`).
 */
export async function eventually<T>(
  what: string | (() => string),
  probe: () => T | Promise<T>,
  options: EventuallyUntil<T>,
): Promise<T>;
export async function eventually<T>(
  what: string | (() => string),
  probe: () => T | Promise<T>,
  options?: EventuallyOptions,
): Promise<Exclude<T, NotYet>>;
export async function eventually<T>(
  what: string | (() => string),
  probe: () => T | Promise<T>,
  options: EventuallyOptions & { holds?: (value: T) => boolean } = {},
): Promise<T> {
  const { timeoutMs = 20_000, intervalMs = 50 } = options;
  const holds = options.holds ?? ((value: T) => value !== undefined && value !== null && value !== false);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (holds(value)) return value;
    if (Date.now() > deadline) {
      const awaited = typeof what === 'string' ? what : what();
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${awaited}; last value seen: ${inspect(value, { depth: 4, breakLength: Infinity, maxStringLength: 2000 })}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
