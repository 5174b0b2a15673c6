import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProgressReporter } from '../../scheduler/progress.js';
import { runCli } from '../helpers/cli.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { flat, insertSubscribers } from './fixtures.js';
import { articlesFor, importLongIssue, LONG_ISSUE } from '../fixtures/long-issue.js';

describe('scheduler commands (README, "Command line"), mail to the outbox', () => {
  let env: TempEnv;
  let slug: string;
  const outbox = () => readdirSync(env.config.outboxDir).filter((f) => f.endsWith('.eml'));

  beforeAll(async () => {
    env = makeTempEnv({ MAIL_FROM: 'News <news@example.org>' });
    const services = await env.open();
    slug = await importLongIssue(services);
    await insertSubscribers(services.db, [
      { email: 'one@example.org', name: 'One' },
      { email: 'two@example.org', topics: ['shared-ledgers'] },
      { email: 'three@example.org', topics: ['annex', 'open-data'] },
      { email: 'off@example.org', status: 'unsubscribed' },
    ]);
    await services.close();
  });

  afterAll(() => env?.cleanup());

  it('schedules in the given zone, shows it in SCHEDULE_TZ, and unschedules', async () => {
    const set = await runCli(['schedule', slug, '--at', '2030-07-01T09:00 America/New_York'], env.env);
    expect(set.code, set.stderr).toBe(0);
    // SCHEDULE_TZ of the test environment is Europe/Brussels.
    expect(set.stdout).toBe(
      `Scheduled ${slug} for 2030-07-01 15:00 Europe/Brussels (UTC+02:00) (2030-07-01T13:00:00.000Z)\n`,
    );
    const status = await runCli(['status', slug], env.env);
    expect(status.stdout).toMatch(/status: +scheduled/);
    expect(status.stdout).toMatch(/send at: +2030-07-01 15:00 Europe\/Brussels/);
    expect(status.stdout).toMatch(/deliveries: planned 0, sent 0/);
    const unset = await runCli(['unschedule', slug], env.env);
    expect(unset.stdout).toMatch(/Unscheduled .* draft again/);
    expect((await runCli(['status', slug], env.env)).stdout).toMatch(/status: +draft/);
  });

  it('says what to fix for a bad time, a past time, an unknown issue or a wrong state', async () => {
    const bad = await runCli(['schedule', slug, '--at', 'next monday'], env.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: "next monday" is not a date and time; use e\.g\./);
    const past = await runCli(['schedule', slug, '--at', '2020-01-01T09:00Z'], env.env);
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(/is in the past; give a later time, or send now with `newsletter send/);
    const unknown = await runCli(['status', 'no-such-issue'], env.env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`No issue "no-such-issue". Issues: ${slug}`);
    const missingAt = await runCli(['schedule', slug], env.env);
    expect(missingAt.code).not.toBe(0);
    expect(missingAt.stderr).toMatch(/--at/);
    for (const command of ['pause', 'resume', 'unschedule']) {
      const run = await runCli([command, slug], env.env);
      expect(run.code, command).toBe(1);
      expect(run.stderr, command).toMatch(/is not (sending|paused|scheduled) \(it is draft\)/);
    }
  });

  it('sends a [TEST] copy of one edition outside the delivery records', async () => {
    const run = await runCli(['send', slug, '--test', 'Editor@Example.org', '--topics', 'shared-ledgers'], env.env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Sent a \[TEST\] copy of .* \(edition shared-ledgers\) to editor@example\.org/);
    const files = outbox();
    expect(files).toHaveLength(1);
    const mail = await simpleParser(readFileSync(path.join(env.config.outboxDir, files[0] ?? '')));
    expect(mail.subject).toMatch(/^\[TEST\] /);
    const wanted = articlesFor(['shared-ledgers']).map((a) => a.title);
    const html = flat(String(mail.html));
    for (const { title } of LONG_ISSUE.articles) expect(html.includes(flat(title)), title).toBe(wanted.includes(title));
    const status = await runCli(['status', slug], env.env);
    expect(status.stdout).toMatch(/status: +draft/);
    expect(status.stdout).toMatch(/planned 0/);
  });

  it('refuses a test send with an unknown topic or a bad address, and --topics without --test', async () => {
    const topic = await runCli(['send', slug, '--test', 'a@example.org', '--topics', 'cooking'], env.env);
    expect(topic.code).toBe(1);
    expect(topic.stderr).toMatch(/Unknown topic "cooking"\. Topics: .*shared-ledgers/);
    const address = await runCli(['send', slug, '--test', 'not-an-address'], env.env);
    expect(address.code).toBe(1);
    expect(address.stderr).toMatch(/"not-an-address" is not an email address/);
    const real = await runCli(['send', slug, '--topics', 'shared-ledgers'], env.env);
    expect(real.code).toBe(1);
    expect(real.stderr).toMatch(/--topics only goes with --test/);
  });

  it('sends the issue into the outbox with a summary, then refuses to send it twice', async () => {
    const before = outbox().length;
    const run = await runCli(['send', slug], env.env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Sent ${slug}: 3 sent, 0 skipped, 0 failed of 3 planned`));
    // How many of the send's editions were fitted to the email size budget.
    expect(run.stdout).toMatch(/\n {2}\d of 3 editions fitted with teasers to stay within the email size budget\n/);
    // Not a terminal: plain progress lines, no bar.
    expect(run.stderr).toMatch(/3\/3 done \(100%\), 3 sent, 0 skipped, 0 failed/);
    expect(outbox().length - before).toBe(3);
    const again = await runCli(['send', slug], env.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^Nothing to send: .* was already sent/);
    expect(outbox().length - before).toBe(3);
    const cancel = await runCli(['cancel', slug], env.env);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toMatch(/is sent; only a scheduled, sending or paused issue can be cancelled/);
  });
});

describe('cancel', () => {
  it('cancels a scheduled issue; sending it afterwards is refused', async () => {
    const env = makeTempEnv();
    try {
      const services = await env.open();
      const slug = await importLongIssue(services);
      await insertSubscribers(services.db, [{ email: 'x@example.org' }]);
      await services.close();
      expect((await runCli(['schedule', slug, '--at', '2031-01-01 08:00'], env.env)).code).toBe(0);
      const cancel = await runCli(['cancel', slug], env.env);
      expect(cancel.stdout).toMatch(/^Cancelled /);
      const send = await runCli(['send', slug], env.env);
      expect(send.code).toBe(1);
      expect(send.stderr).toMatch(/was cancelled; nothing to send/);
    } finally {
      env.cleanup();
    }
  });
});

describe('progress lines when not on a terminal', () => {
  it('prints done/total, counts, rate and ETA', () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString()));
    let now = 1_000_000;
    const reporter = createProgressReporter({ stream, label: 'issue-1', tty: false, intervalMs: 0, clock: () => now });
    const startedAt = new Date(now);
    const counts = { planned: 100, pending: 50, sending: 0, sent: 45, skipped: 3, failed: 2 };
    reporter.update({ counts, sentThisRun: 0, startedAt, firstSentAt: null, waitingUntil: null });
    now += 3_000; // 30 messages in 3 s: 10 per second, and 20 left take 2 s
    reporter.update({
      counts: { ...counts, sent: 75, pending: 20 },
      sentThisRun: 30,
      startedAt,
      firstSentAt: startedAt,
      waitingUntil: null,
    });
    reporter.finish();
    const lines = text.trim().split('\n');
    expect(lines.at(-1)).toBe('issue-1: 80/100 done (80%), 75 sent, 3 skipped, 2 failed, 10 msg/s, ETA 2s');
  });
});
