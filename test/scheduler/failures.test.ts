import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { resumeSend, sendIssue, sendStatus } from '../../scheduler/send-control.js';
import { smtpError, startSmtpSink, type SmtpSink, type SmtpSinkOptions } from '../helpers/smtp-sink.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { deliveriesOf, insertSubscribers } from './fixtures.js';
import { byRecipient } from './mail.js';
import { importLongIssue } from '../fixtures/long-issue.js';

const FAST_RETRIES = { retryBaseMs: 40, retryMaxMs: 200 };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function setup(
  smtpUrl: string,
  subscribers: number,
  extraEnv: Record<string, string> = {},
): Promise<{ services: Services; slug: string; env: TempEnv }> {
  const env = makeTempEnv({ SMTP_URL: smtpUrl, SEND_CONCURRENCY: '2', ...extraEnv });
  const services = await env.open();
  cleanups.push(() => env.cleanup());
  cleanups.push(() => services.close());
  const slug = await importLongIssue(services);
  await insertSubscribers(
    services.db,
    Array.from({ length: subscribers }, (_, i) => ({
      email: `r${i}@example.org`,
      topics: i % 2 === 0 ? [] : ['shared-ledgers'],
    })),
  );
  return { services, slug, env };
}

async function sink(reply?: SmtpSinkOptions['reply']): Promise<SmtpSink> {
  const s = await startSmtpSink({ reply });
  cleanups.push(() => s.close());
  return s;
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 1;
}

describe('send failures', () => {
  it('retries 4xx replies with backoff until the server accepts: everyone gets one copy', async () => {
    const deferredOnce = new Set<string>();
    const server = await sink((_n, to) => {
      const rcpt = to[0] ?? '';
      if (deferredOnce.has(rcpt)) return undefined;
      deferredOnce.add(rcpt);
      return smtpError(451, '4.7.1 Greylisted, try again later');
    });
    const { services, slug } = await setup(server.url, 6);
    const report = await sendIssue(services, slug, { tuning: FAST_RETRIES });
    expect(report.outcome).toBe('finished');
    const rows = await deliveriesOf(services.db, slug);
    expect(rows.map((r) => r.status)).toEqual(Array(6).fill('sent'));
    expect(rows.map((r) => r.attempts)).toEqual(Array(6).fill(2));
    const got = byRecipient(server.received);
    expect(got.size).toBe(6);
    for (const copies of got.values()) expect(copies).toHaveLength(1);
  });

  it('persists the next attempt time and gives up after the bounded number of attempts', async () => {
    const server = await sink((_n, to) =>
      to[0] === 'r1@example.org' ? smtpError(452, '4.2.2 Mailbox full') : undefined,
    );
    const { services, slug } = await setup(server.url, 3);
    const seen: string[] = [];
    const report = await sendIssue(services, slug, {
      tuning: { ...FAST_RETRIES, maxAttempts: 3 },
      onProgress: (p) => {
        if (p.waitingUntil) seen.push(p.waitingUntil.toISOString());
      },
    });
    expect(report.outcome).toBe('finished');
    const rows = await deliveriesOf(services.db, slug);
    const full = rows.find((r) => r.email === 'r1@example.org');
    expect(full).toMatchObject({ status: 'failed', attempts: 3 });
    expect(full?.last_error).toMatch(/gave up after 3 attempts: 452 4\.2\.2 Mailbox full/);
    // While it waited, the time of the next attempt was in the database and reported.
    expect(seen.length).toBeGreaterThan(0);
    expect(rows.filter((r) => r.status === 'sent')).toHaveLength(2);
  });

  it('marks a 5xx reply failed with the reply, and a 5.1.1 "no such user" bounced', async () => {
    const server = await sink((_n, to) => {
      if (to[0] === 'r1@example.org')
        return smtpError(550, '5.1.1 <r1@example.org>: Recipient address rejected: User unknown');
      if (to[0] === 'r2@example.org') return smtpError(554, '5.6.0 Message content rejected');
      return undefined;
    });
    const { services, slug } = await setup(server.url, 5);
    const report = await sendIssue(services, slug, { tuning: FAST_RETRIES });
    expect(report.outcome).toBe('finished');
    const rows = await deliveriesOf(services.db, slug);
    const unknown = rows.find((r) => r.email === 'r1@example.org');
    const spam = rows.find((r) => r.email === 'r2@example.org');
    expect(unknown).toMatchObject({ status: 'failed', attempts: 1 });
    expect(unknown?.last_error).toContain('550 5.1.1 <r1@example.org>: Recipient address rejected: User unknown');
    expect(spam).toMatchObject({ status: 'failed', attempts: 1 });
    expect(spam?.last_error).toContain('554 5.6.0 Message content rejected');
    const subscribers = await services.db.selectFrom('subscribers').select(['email', 'status', 'id']).execute();
    const statusOf = (email: string) => subscribers.find((s) => s.email === email)?.status;
    expect(statusOf('r1@example.org')).toBe('bounced');
    expect(statusOf('r2@example.org')).toBe('active');
    const bouncedId = subscribers.find((s) => s.email === 'r1@example.org')?.id ?? -1;
    const log = await services.db
      .selectFrom('consent_log')
      .selectAll()
      .where('subscriber_id', '=', bouncedId)
      .execute();
    expect(log.filter((l) => l.action === 'bounce')).toEqual([
      expect.objectContaining({ source: 'system', detail: expect.stringContaining('5.1.1') }),
    ]);
    expect(rows.filter((r) => r.status === 'sent')).toHaveLength(3);
    expect((await sendStatus(services, slug)).counts).toMatchObject({ sent: 3, failed: 2 });
  });

  it('pauses with the reason when the server is down, instead of burning the list', async () => {
    const port = await closedPort();
    const { services, slug } = await setup(`smtp://127.0.0.1:${port}`, 30);
    const report = await sendIssue(services, slug, { tuning: FAST_RETRIES });
    expect(report.outcome).toBe('paused');
    const status = await sendStatus(services, slug);
    expect(status.status).toBe('paused');
    expect(status.pauseReason).toMatch(/Paused automatically: \d+ of the last \d+ messages failed.*ECONNREFUSED/);
    // Nobody was given up on; every delivery waits for resume.
    expect(status.counts).toMatchObject({ planned: 30, pending: 30, sent: 0, failed: 0, sending: 0 });
  });

  it('pauses on a server-wide 421, then finishes after resume with one copy each', async () => {
    let down = true;
    const server = await sink(() => (down ? smtpError(421, '4.3.2 Service shutting down') : undefined));
    const { services, slug } = await setup(server.url, 25);
    const first = await sendIssue(services, slug, { tuning: FAST_RETRIES });
    expect(first.outcome).toBe('paused');
    expect((await sendStatus(services, slug)).pauseReason).toMatch(/421 4\.3\.2 Service shutting down/);
    down = false;
    await resumeSend(services, slug);
    const second = await sendIssue(services, slug, { tuning: FAST_RETRIES });
    expect(second.outcome).toBe('finished');
    const rows = await deliveriesOf(services.db, slug);
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    const got = byRecipient(server.received);
    expect(got.size).toBe(25);
    for (const copies of got.values()) expect(copies).toHaveLength(1);
  });

  it('pauses on bad credentials (535), naming the reply', async () => {
    const server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      logger: false,
      onAuth(_auth, _session, callback) {
        callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const address = server.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const { services, slug } = await setup(`smtp://user:wrong@127.0.0.1:${port}`, 12);
    const report = await sendIssue(services, slug, { tuning: FAST_RETRIES });
    expect(report.outcome).toBe('paused');
    const status = await sendStatus(services, slug);
    expect(status.pauseReason).toMatch(/535.*Authentication credentials invalid/);
    expect(status.counts).toMatchObject({ failed: 0, sent: 0, pending: 12 });
  });
});
