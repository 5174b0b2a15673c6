import { describe, expect, it } from 'vitest';
import { formatScheduleTime, parseScheduleTime, ScheduleTimeError } from '../../scheduler/schedule.js';

const iso = (d: Date) => d.toISOString();

describe('parseScheduleTime', () => {
  it('takes an explicit UTC offset or Z', () => {
    expect(iso(parseScheduleTime('2026-03-02T09:00+01:00', 'UTC'))).toBe('2026-03-02T08:00:00.000Z');
    expect(iso(parseScheduleTime('2026-03-02T09:00:30-0530', 'UTC'))).toBe('2026-03-02T14:30:30.000Z');
    expect(iso(parseScheduleTime('2026-03-02T08:00Z', 'Asia/Tokyo'))).toBe('2026-03-02T08:00:00.000Z');
    expect(iso(parseScheduleTime('2026-03-02 08:00:00.000Z', 'Asia/Tokyo'))).toBe('2026-03-02T08:00:00.000Z');
  });

  it('takes an IANA zone after a space or in brackets, with daylight saving time', () => {
    // Brussels: UTC+1 in winter, UTC+2 in summer.
    expect(iso(parseScheduleTime('2026-03-02 09:00 Europe/Brussels', 'UTC'))).toBe('2026-03-02T08:00:00.000Z');
    expect(iso(parseScheduleTime('2026-07-01T09:00[Europe/Brussels]', 'UTC'))).toBe('2026-07-01T07:00:00.000Z');
    expect(iso(parseScheduleTime('2026-07-01T09:00 America/New_York', 'UTC'))).toBe('2026-07-01T13:00:00.000Z');
  });

  it('uses SCHEDULE_TZ when the time has neither offset nor zone', () => {
    expect(iso(parseScheduleTime('2026-12-24T18:30', 'Europe/Brussels'))).toBe('2026-12-24T17:30:00.000Z');
    expect(iso(parseScheduleTime('2026-12-24 18:30', 'Asia/Shanghai'))).toBe('2026-12-24T10:30:00.000Z');
  });

  it('accepts an offset and a zone together only when they agree', () => {
    expect(iso(parseScheduleTime('2026-07-01T09:00+02:00[Europe/Brussels]', 'UTC'))).toBe('2026-07-01T07:00:00.000Z');
    expect(() => parseScheduleTime('2026-07-01T09:00+01:00[Europe/Brussels]', 'UTC')).toThrow(
      /not the offset of Europe\/Brussels/,
    );
  });

  it('refuses a wall time skipped by the spring-forward change, saying why', () => {
    expect(() => parseScheduleTime('2026-03-29 02:30', 'Europe/Brussels')).toThrow(
      /does not exist in Europe\/Brussels/,
    );
  });

  it('explains what is wrong with bad input', () => {
    expect(() => parseScheduleTime('tomorrow at nine', 'UTC')).toThrow(ScheduleTimeError);
    expect(() => parseScheduleTime('tomorrow at nine', 'UTC')).toThrow(/use e\.g\. 2026-03-02T09:00\+01:00/);
    expect(() => parseScheduleTime('2026-02-30T09:00Z', 'UTC')).toThrow(/not a valid calendar date/);
    expect(() => parseScheduleTime('2026-02-10T25:00Z', 'UTC')).toThrow(/not a valid calendar date/);
    expect(() => parseScheduleTime('2026-02-10 09:00 Mars/Olympus', 'UTC')).toThrow(
      /"Mars\/Olympus" is not a time zone/,
    );
  });
});

describe('formatScheduleTime', () => {
  it('shows the instant in the editors’ zone with its offset', () => {
    expect(formatScheduleTime('2026-03-02T08:00:00.000Z', 'Europe/Brussels')).toBe(
      '2026-03-02 09:00 Europe/Brussels (UTC+01:00)',
    );
    expect(formatScheduleTime(new Date('2026-07-01T13:00:00Z'), 'America/New_York')).toBe(
      '2026-07-01 09:00 America/New_York (UTC-04:00)',
    );
  });

  it('round-trips through parse', () => {
    const at = parseScheduleTime('2026-07-01 09:15 Europe/Brussels', 'UTC');
    expect(formatScheduleTime(at, 'Europe/Brussels')).toBe('2026-07-01 09:15 Europe/Brussels (UTC+02:00)');
  });

  it('reads an autumn wall time that happens twice as its second occurrence, after the clocks go back', () => {
    // On 2026-10-25 Brussels goes from 03:00 CEST back to 02:00 CET: 02:30 is 00:30Z and 01:30Z.
    const at = parseScheduleTime('2026-10-25 02:30 Europe/Brussels', 'UTC');
    expect(iso(at)).toBe('2026-10-25T01:30:00.000Z');
    expect(formatScheduleTime(at, 'Europe/Brussels')).toBe('2026-10-25 02:30 Europe/Brussels (UTC+01:00)');
    // The first occurrence is reachable with its offset.
    expect(iso(parseScheduleTime('2026-10-25T02:30+02:00[Europe/Brussels]', 'UTC'))).toBe('2026-10-25T00:30:00.000Z');
  });
});
