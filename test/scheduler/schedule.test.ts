import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatScheduleTime, parseScheduleTime, ScheduleTimeError } from '../../scheduler/schedule.js';
import { scheduleIssue } from '../../scheduler/send-control.js';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { runCli } from '../helpers/cli.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

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

describe('schedule years outside 2000-2999 are refused with a clear error', () => {
  it('refuses 0099 (which Date.UTC reads as 1999) and 9999-12-31T23:59Z (shown as year 10000 east of UTC)', () => {
    for (const input of ['0099-01-01T00:00Z', '1999-12-31T23:00Z', '9999-12-31T23:59Z', '3000-01-01 09:00']) {
      expect(() => parseScheduleTime(input, 'Asia/Tokyo'), input).toThrow(ScheduleTimeError);
      expect(() => parseScheduleTime(input, 'Asia/Tokyo'), input).toThrow(
        `"${input}": the year must be between 2000 and 2999`,
      );
    }
    // The year is checked as the instant too: this wall time is already 3000 in UTC.
    expect(() => parseScheduleTime('2999-12-31T23:30-01:00', 'UTC')).toThrow(/the year must be between 2000 and 2999/);
    expect(iso(parseScheduleTime('2999-12-31T23:59Z', 'UTC'))).toBe('2999-12-31T23:59:00.000Z');
  });

  describe('through the CLI and the API', () => {
    let env: TempEnv;
    let services: Services;
    beforeAll(async () => {
      env = makeTempEnv();
      expect((await runCli(['import', DEMO_DIR], env.env)).code).toBe(0);
      services = await env.open();
    });
    afterAll(async () => {
      await services.close();
      env.cleanup();
    });

    it('`newsletter schedule` says what is wrong with the year and schedules nothing', async () => {
      const run = await runCli(['schedule', 'welcome', '--at', '0099-01-01T00:00Z'], env.env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('"0099-01-01T00:00Z": the year must be between 2000 and 2999');
      const status = await runCli(['status', 'welcome'], env.env);
      expect(status.stdout).toMatch(/status: +draft/);
    });

    it('scheduleIssue refuses a Date in year 10000', async () => {
      await expect(scheduleIssue(services, 'welcome', new Date(Date.UTC(10000, 0, 1)))).rejects.toThrow(
        /the year must be between 2000 and 2999/,
      );
    });
  });
});
