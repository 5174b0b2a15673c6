import { afterEach, describe, expect, it } from 'vitest';
import { resumeSend, sendIssue, sendStatus } from '../../scheduler/send-control.js';
import { spawnNewsletter } from './child.js';
import { deliveriesOf } from './fixtures.js';
import { demoSend } from './demo-send.js';
import { startFaultSink, type FaultSink, type FaultSinkOptions } from './fault-sink.js';

// Issue 9 items 2, 5 and 16 on real parts: the demo issue sent to a real SMTP server on loopback
// that misbehaves in the named way.

const FAST = { retryBaseMs: 30, retryMaxMs: 200 };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function sink(options: FaultSinkOptions = {}): Promise<FaultSink> {
  const s = await startFaultSink(options);
  cleanups.push(() => s.close());
  return s;
}

async function subscriberStatuses(services: Awaited<ReturnType<typeof demoSend>>['services']) {
  const rows = await services.db.selectFrom('subscribers').select('status').execute();
  return rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
}

describe('a server that refuses our sender (issue 9 item 2)', () => {
  for (const reply of [
    '553 5.1.8 <newsletter@localhost>: Sender address rejected: Domain not found',
    '550 5.1.8 Access denied, bad outbound sender',
  ]) {
    it(`pauses with the reason and marks nobody: "${reply}"`, async () => {
      const server = await sink({ mailFrom: () => ({ code: Number(reply.slice(0, 3)), message: reply.slice(4) }) });
      const { services, slug } = await demoSend(200, { SMTP_URL: server.url, SEND_CONCURRENCY: '2' }, cleanups);
      const report = await sendIssue(services, slug, { tuning: FAST });
      expect(report.outcome).toBe('paused');
      const status = await sendStatus(services, slug);
      expect(status.status).toBe('paused');
      expect(status.pauseReason).toContain(reply.slice(4));
      expect(status.pauseReason).toMatch(/refused our sender/);
      expect(status.counts).toMatchObject({ planned: 200, sent: 0, failed: 0, sending: 0 });
      expect(await subscriberStatuses(services)).toEqual({ active: 200 });
      expect(server.received).toHaveLength(0);
    });
  }

  it('pauses on a policy status at RCPT (5.7.1) instead of failing the recipient', async () => {
    const server = await sink({
      rcptTo: (to) => (to === 'r3@example.org' ? { code: 550, message: '5.7.1 Relaying denied' } : undefined),
    });
    const { services, slug } = await demoSend(10, { SMTP_URL: server.url, SEND_CONCURRENCY: '1' }, cleanups);
    const report = await sendIssue(services, slug, { tuning: FAST });
    expect(report.outcome).toBe('paused');
    expect((await sendStatus(services, slug)).pauseReason).toMatch(/5\.7\.1 Relaying denied/);
    const r3 = (await deliveriesOf(services.db, slug)).find((d) => d.email === 'r3@example.org');
    expect(r3?.status).toBe('pending');
    expect(await subscriberStatuses(services)).toEqual({ active: 10 });
  });
});

describe('the bounce safety net (issue 9 item 2)', () => {
  it('pauses for an editor when more than 20 % of the first 100 recipients bounce, marking nobody', async () => {
    // Every fourth recipient is unknown: 25 % of the list.
    const server = await sink({
      rcptTo: (to) =>
        Number(/\d+/.exec(to)?.[0]) % 4 === 0 ? { code: 550, message: '5.1.1 User unknown' } : undefined,
    });
    const { services, slug } = await demoSend(200, { SMTP_URL: server.url, SEND_CONCURRENCY: '2' }, cleanups);
    const report = await sendIssue(services, slug, { tuning: FAST });
    expect(report.outcome).toBe('paused');
    const status = await sendStatus(services, slug);
    expect(status.pauseReason).toMatch(/^Paused: 21 of the first \d+ recipients bounced \(more than 20 %\)/);
    expect(await subscriberStatuses(services)).toEqual({ active: 200 });
    const rows = await deliveriesOf(services.db, slug);
    expect(rows.filter((r) => r.status === 'failed')).toHaveLength(0);
    expect(rows.filter((r) => r.status === 'sent').length).toBeLessThanOrEqual(100);

    // The editor looked and resumes: bounces now mark their subscribers as they come.
    await resumeSend(services, slug);
    const second = await sendIssue(services, slug, { tuning: FAST });
    expect(second.outcome).toBe('finished');
    expect(await subscriberStatuses(services)).toEqual({ active: 150, bounced: 50 });
  });

  it('marks the held bounces once 100 recipients passed under the limit', async () => {
    const server = await sink({
      rcptTo: (to) =>
        Number(/\d+/.exec(to)?.[0]) % 10 === 5 ? { code: 550, message: '5.1.1 User unknown' } : undefined,
    });
    const { services, slug } = await demoSend(150, { SMTP_URL: server.url, SEND_CONCURRENCY: '2' }, cleanups);
    const report = await sendIssue(services, slug, { tuning: FAST });
    expect(report.outcome).toBe('finished');
    expect(await subscriberStatuses(services)).toEqual({ active: 135, bounced: 15 });
    const log = await services.db.selectFrom('consent_log').select('detail').where('action', '=', 'bounce').execute();
    expect(log).toHaveLength(15);
    expect(log.every((l) => l.detail?.includes('5.1.1 User unknown'))).toBe(true);
  });
});

describe('a relay that drops one connection in three (issue 9 item 16)', () => {
  it('retries the dropped messages and finishes, without pausing on a sample of one', async () => {
    const server = await sink({ dropAfterData: (n) => n % 3 === 0 });
    const { services, slug } = await demoSend(24, { SMTP_URL: server.url, SEND_CONCURRENCY: '2' }, cleanups);
    const report = await sendIssue(services, slug, { tuning: FAST });
    expect(report.outcome, report.reason ?? '').toBe('finished');
    const rows = await deliveriesOf(services.db, slug);
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    expect(new Set(server.accepted.map((m) => m.to)).size).toBe(24);
  });
});

describe('a server that never answers after DATA (issue 9 item 5)', () => {
  it('counts overdue replies as temporary failures: the breaker pauses, nothing is lost, resume resends the same Message-IDs', async () => {
    const server = await sink();
    server.mode = 'never-answer';
    const { services, slug } = await demoSend(
      30,
      { SMTP_URL: server.url, SEND_CONCURRENCY: '2', SMTP_TIMEOUT: '1' },
      cleanups,
    );
    const report = await sendIssue(services, slug, { tuning: FAST });
    expect(report.outcome).toBe('paused');
    const status = await sendStatus(services, slug);
    expect(status.pauseReason).toMatch(/Paused automatically: .*Timeout/i);
    expect(status.counts).toMatchObject({ planned: 30, pending: 30, sent: 0, failed: 0, sending: 0 });
    const unanswered = new Map(server.received.map((m) => [m.to, m.messageId]));
    expect(unanswered.size).toBeGreaterThan(0);

    server.mode = 'accept';
    await resumeSend(services, slug);
    expect((await sendIssue(services, slug, { tuning: FAST })).outcome).toBe('finished');
    for (const mail of server.accepted) {
      const before = unanswered.get(mail.to);
      if (before !== undefined) expect(mail.messageId).toBe(before);
    }
    expect(new Set(server.accepted.map((m) => m.to)).size).toBe(30);
  });

  it('SIGTERM stops `newsletter send` within its bound; what was unanswered is resent with the same Message-ID', async () => {
    const server = await sink();
    server.mode = 'never-answer';
    const { env, services, slug } = await demoSend(20, { SMTP_URL: server.url, SEND_CONCURRENCY: '2' }, cleanups);
    const run = spawnNewsletter(['send', slug], env.dir, {
      ...env.env,
      SMTP_TIMEOUT: '600',
      SEND_STOP_TIMEOUT: '2',
      LOG_LEVEL: 'warn',
    });
    const { child, output } = run;
    const exited = run.exit.then((e) => e.code);
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    await server.waitForData(2);
    child.kill('SIGTERM');
    // The bound: without it the process waited on the silent server for 10 minutes.
    const code = await Promise.race([
      exited,
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 30_000).unref()),
    ]);
    expect(code, output()).toBe(143);
    expect(output()).toMatch(/Stopped/);
    const rows = await deliveriesOf(services.db, slug);
    expect(rows.filter((r) => r.status === 'sending')).toHaveLength(0);
    expect(rows.filter((r) => r.status === 'sent')).toHaveLength(0);
    const unanswered = new Map(server.received.map((m) => [m.to, m.messageId]));

    server.mode = 'accept';
    const rerun = await sendIssue(services, slug, { tuning: FAST });
    expect(rerun.outcome).toBe('finished');
    for (const [to, messageId] of unanswered)
      expect(server.accepted.find((m) => m.to === to)?.messageId).toBe(messageId);
  });
});
