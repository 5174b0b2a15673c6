import { Temporal } from 'temporal-polyfill';

// Send times as editors write them: ISO-8601 with an offset (`2026-03-02T09:00+01:00`, `…Z`), with an
// IANA zone (`2026-03-02 09:00 Europe/Brussels` or `2026-03-02T09:00[Europe/Brussels]`), or with
// neither, in which case SCHEDULE_TZ applies. Stored as ISO UTC; shown back in SCHEDULE_TZ.
//
// The calendar and time-zone work is Temporal's (the `temporal-polyfill` package until Node ships
// Temporal): RFC 9557 `[Zone]` strings, daylight-saving gaps and overlaps, an offset that must agree
// with its zone. What is ours is only recognising the editors' spellings (a space before the time
// or the zone, `+0100`) and saying what to fix.

export class ScheduleTimeError extends Error {}

const PATTERN =
  /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*(?:\[([^\]\s]+)\]|([A-Za-z][A-Za-z0-9_+/-]*))?$/i;

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
    Temporal.Now.zonedDateTimeISO(zone);
    return true;
  } catch {
    return false;
  }
}

/** `+0100`, `+01` and `+01:00` as Temporal writes offsets: `+01:00`; `Z` stays. */
function normalOffset(offset: string): string {
  if (offset.toUpperCase() === 'Z') return 'Z';
  const digits = offset.slice(1).replace(':', '');
  return `${offset[0]}${digits.slice(0, 2)}:${digits.slice(2) || '00'}`;
}

/**
 * Parses an editor's send time. `defaultZone` (SCHEDULE_TZ) applies when the text has no offset
 * and no zone. Throws ScheduleTimeError with what to fix.
 */
export function parseScheduleTime(input: string, defaultZone: string): Date {
  const instant = parseInstant(input, defaultZone);
  assertScheduleYear(instant.getUTCFullYear(), input);
  return instant;
}

function parseInstant(input: string, defaultZone: string): Date {
  const m = PATTERN.exec(input.trim());
  if (!m) throw new ScheduleTimeError(`"${input}" is not a date and time; ${EXAMPLE}`);
  const [, date, time, offset, bracketZone, spaceZone] = m;
  assertScheduleYear(Number(date?.slice(0, 4)), input);
  let wall: Temporal.PlainDateTime;
  try {
    wall = Temporal.PlainDateTime.from(`${date}T${time}`);
  } catch {
    throw new ScheduleTimeError(`"${input}" is not a valid calendar date and time; ${EXAMPLE}`);
  }
  const zone = bracketZone ?? spaceZone;
  if (zone !== undefined && !isTimeZone(zone)) {
    throw new ScheduleTimeError(`"${zone}" is not a time zone; use an IANA name such as Europe/Brussels`);
  }
  if (offset !== undefined) {
    const withOffset = `${wall.toString()}${normalOffset(offset)}`;
    try {
      if (zone === undefined) return new Date(Temporal.Instant.from(withOffset).epochMilliseconds);
      // An offset and a zone together must agree, or the editor meant two different times.
      return new Date(Temporal.ZonedDateTime.from(`${withOffset}[${zone}]`, { offset: 'reject' }).epochMilliseconds);
    } catch {
      throw new ScheduleTimeError(
        zone === undefined
          ? `"${offset}" is not a UTC offset; ${EXAMPLE}`
          : `"${input}": offset ${offset} is not the offset of ${zone} at that time`,
      );
    }
  }
  const inZone = zone ?? defaultZone;
  // A wall time the clocks pass twice (autumn) is its second occurrence, after the change; one they
  // skip (spring) is refused: Temporal would move it, and the editor would not see to where.
  const zoned = wall.toZonedDateTime(inZone, { disambiguation: 'later' });
  if (!zoned.toPlainDateTime().equals(wall)) {
    throw new ScheduleTimeError(
      `"${input}" does not exist in ${inZone} (the clocks skip it for daylight saving time); pick another time`,
    );
  }
  return new Date(zoned.epochMilliseconds);
}

/** `2026-03-02 09:00 Europe/Brussels (UTC+01:00)`: how a send time is shown to editors. */
export function formatScheduleTime(instant: Date | string, zone: string): string {
  const ms = typeof instant === 'string' ? Date.parse(instant) : instant.getTime();
  const zoned = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone);
  const wall = zoned.toPlainDateTime().toString({ smallestUnit: zoned.second !== 0 ? 'second' : 'minute' });
  return `${wall.replace('T', ' ')} ${zone} (UTC${zoned.offset})`;
}
