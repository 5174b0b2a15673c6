// Send times as editors write them: ISO-8601 with an offset (`2026-03-02T09:00+01:00`, `…Z`), with an
// IANA zone (`2026-03-02 09:00 Europe/Brussels` or `2026-03-02T09:00[Europe/Brussels]`), or with
// neither, in which case SCHEDULE_TZ applies. Stored as ISO UTC; shown back in SCHEDULE_TZ.

export class ScheduleTimeError extends Error {}

const PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*(?:\[([^\]\s]+)\]|([A-Za-z][A-Za-z0-9_+/-]*))?$/i;

const EXAMPLE = 'use e.g. 2026-03-02T09:00+01:00, 2026-03-02T08:00Z or "2026-03-02 09:00 Europe/Brussels"';

/**
 * Years a send time may fall in. Outside it, JavaScript dates misread the input (`Date.UTC` takes
 * years 0-99 as 1900-1999) or show it as another year (9999-12-31T23:59Z is year 10000 east of
 * Greenwich); no real schedule needs them.
 */
export const SCHEDULE_YEARS = { min: 2000, max: 2999 } as const;

/** Refuses a send time whose year is outside SCHEDULE_YEARS (in UTC or as written). */
export function assertScheduleYear(year: number, input: string): void {
  if (year < SCHEDULE_YEARS.min || year > SCHEDULE_YEARS.max) {
    throw new ScheduleTimeError(
      `"${input}": the year must be between ${SCHEDULE_YEARS.min} and ${SCHEDULE_YEARS.max}; ${EXAMPLE}`,
    );
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function partsFormatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall-clock fields of an instant in a zone, as if that wall time were UTC (ms). */
function wallClockMs(instant: number, zone: string): number {
  const parts = Object.fromEntries(
    partsFormatter(zone)
      .formatToParts(new Date(instant))
      .map((p) => [p.type, p.value]),
  );
  return Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
}

/** Offset of `zone` from UTC at an instant, in ms (positive east of Greenwich). */
export function zoneOffsetMs(instant: number, zone: string): number {
  return wallClockMs(Math.floor(instant / 1000) * 1000, zone) - Math.floor(instant / 1000) * 1000;
}

/** Converts a wall-clock time in a zone to an instant; rejects times skipped by a DST change. */
function fromWallClock(wall: number, zone: string, input: string): Date {
  // Two passes settle the offset on either side of a DST change.
  let instant = wall - zoneOffsetMs(wall, zone);
  instant = wall - zoneOffsetMs(instant, zone);
  if (wallClockMs(instant, zone) !== wall) {
    throw new ScheduleTimeError(
      `"${input}" does not exist in ${zone} (the clocks skip it for daylight saving time); pick another time`,
    );
  }
  return new Date(instant);
}

/**
 * Parses an editor's send time. `defaultZone` (SCHEDULE_TZ) applies when the text has no offset
 * and no zone. Throws ScheduleTimeError with what to fix.
 */
export function parseScheduleTime(input: string, defaultZone: string): Date {
  const text = input.trim();
  const m = PATTERN.exec(text);
  if (!m) throw new ScheduleTimeError(`"${input}" is not a date and time; ${EXAMPLE}`);
  const [, y, mo, d, h, mi, s, offset, bracketZone, spaceZone] = m;
  const fields = [y, mo, d, h, mi, s ?? '0'].map(Number) as [number, number, number, number, number, number];
  const [year, month, day, hour, minute, second] = fields;
  assertScheduleYear(year, input);
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(wall);
  if (
    month < 1 ||
    month > 12 ||
    check.getUTCDate() !== day ||
    check.getUTCMonth() !== month - 1 ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new ScheduleTimeError(`"${input}" is not a valid calendar date and time; ${EXAMPLE}`);
  }
  const zone = bracketZone ?? spaceZone;
  if (zone !== undefined && !isTimeZone(zone)) {
    throw new ScheduleTimeError(`"${zone}" is not a time zone; use an IANA name such as Europe/Brussels`);
  }
  if (offset !== undefined) {
    let offsetMs = 0;
    if (offset.toUpperCase() !== 'Z') {
      const sign = offset.startsWith('-') ? -1 : 1;
      const digits = offset.slice(1).replace(':', '');
      const oh = Number(digits.slice(0, 2));
      const om = Number(digits.slice(2) || '0');
      if (oh > 23 || om > 59) throw new ScheduleTimeError(`"${offset}" is not a UTC offset; ${EXAMPLE}`);
      offsetMs = sign * (oh * 60 + om) * 60_000;
    }
    const instant = new Date(wall - offsetMs);
    // An offset and a zone together must agree, or the editor meant two different times.
    if (zone !== undefined && zoneOffsetMs(instant.getTime(), zone) !== offsetMs) {
      throw new ScheduleTimeError(`"${input}": offset ${offset} is not the offset of ${zone} at that time`);
    }
    assertScheduleYear(instant.getUTCFullYear(), input);
    return instant;
  }
  const instant = fromWallClock(wall, zone ?? defaultZone, input);
  assertScheduleYear(instant.getUTCFullYear(), input);
  return instant;
}

/** `2026-03-02 09:00 Europe/Brussels (UTC+01:00)`: how a send time is shown to editors. */
export function formatScheduleTime(instant: Date | string, zone: string): string {
  const date = typeof instant === 'string' ? new Date(instant) : instant;
  const wall = new Date(wallClockMs(date.getTime(), zone));
  const offsetMin = Math.round(zoneOffsetMs(date.getTime(), zone) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = `UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  const seconds = wall.getUTCSeconds() !== 0 ? `:${pad(wall.getUTCSeconds())}` : '';
  return (
    `${wall.getUTCFullYear()}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())} ` +
    `${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}${seconds} ${zone} (${offset})`
  );
}
