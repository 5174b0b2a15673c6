import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { nowIso } from '../../src/db/database.js';
import { planIssueDeliveries, requireIssue } from '../../scheduler/delivery-repository.js';
import { startScheduler, type RunningScheduler } from '../../scheduler/scheduler-service.js';
import { pauseSend, resumeSend, scheduleIssue, sendStatus } from '../../scheduler/send-control.js';
import { eventually } from '../helpers/eventually.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { makeTempEnv } from '../helpers/temp-env.js';
import { deliveriesOf, insertSubscribers, sendReaches } from './fixtures.js';
import { startSlowSink } from './slow-sink.js';
import { importLongIssue } from '../fixtures/long-issue.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function setup(smtpUrl: string, subscribers = 8): Promise<{ services: Services; slug: string }> {
  const env = makeTempEnv({ SMTP_URL: smtpUrl, SEND_CONCURRENCY: '2' });
  const services = await env.open();
  cleanups.push(() => env.cleanup());
  cleanups.push(() => services.close());
  const slug = await importLongIssue(services);
  await insertSubscribers(
    services.db,
    Array.from({ length: subscribers }, (_, i) => ({
      email: `s${i}@example.org`,
      topics: [[], ['shared-ledgers'], ['city-services', 'annex'], ['shared-ledgers']][i % 4] ?? [],
    })),
  );
  return { services, slug };
}

async function sink(): Promise<SmtpSink> {
  const s = await startSmtpSink();
  cleanups.push(() => s.close());
  return s;
}

async function scheduler(
  services: Services,
  options: Parameters<typeof startScheduler>[1] = {},
): Promise<RunningScheduler> {
  const running = await startScheduler(services, options);
  cleanups.push(() => running.stop());
  return running;
}

/**
 * Schedules the issue (a valid, future time), then moves its time a minute into the past, as if
 * the clock had passed it: no test waits on the wall clock for a send time to come.
 */
async function scheduleThenLetTimePass(services: Services, slug: string): Promise<void> {
  await scheduleIssue(services, slug, new Date(Date.now() + 3_600_000));
  expect((await sendStatus(services, slug)).status).toBe('scheduled');
  await services.db
    .updateTable('issues')
    .set({ send_at: new Date(Date.now() - 60_000).toISOString() })
    .where('slug', '=', slug)
    .execute();
}

describe('the scheduler of `newsletter serve`', () => {
  it('sends, right after start, an issue whose time passed while the service was down; each edition built once', async () => {
    const server = await sink();
    const { services, slug } = await setup(server.url);
    // The time passes with no scheduler running.
    await scheduleThenLetTimePass(services, slug);
    const compiles = services.renderer.compileCount;
    const running = await scheduler(services);
    await sendReaches(services, slug, 'sent');
    expect(server.received).toHaveLength(8);
    expect((await deliveriesOf(services.db, slug)).every((d) => d.status === 'sent')).toBe(true);
    // Four editions (*, shared-ledgers, annex+city-services…); the MJML compiler ran once for the issue.
    expect(services.renderer.compileCount - compiles).toBe(1);
    expect(await running.tick()).toEqual([]);
  });

  it('leaves a future schedule alone, and the cron tick starts it when due', async () => {
    const server = await sink();
    const { services, slug } = await setup(server.url);
    await scheduleIssue(services, slug, new Date(Date.now() + 3_600_000));
    // Every second instead of every minute, so the test does not wait.
    const running = await scheduler(services, { tickMs: 1000 });
    // A tick (the one at start, and this one) leaves a future schedule alone.
    expect(await running.tick()).toEqual([]);
    expect((await sendStatus(services, slug)).status).toBe('scheduled');
    expect(server.received).toHaveLength(0);
    // The time comes: the next cron tick starts the send, with no call from the test.
    await services.db
      .updateTable('issues')
      .set({ send_at: new Date(Date.now() - 1_000).toISOString() })
      .where('slug', '=', slug)
      .execute();
    await sendReaches(services, slug, 'sent');
    expect(server.received).toHaveLength(8);
  });

  it('takes over at start a send interrupted by a crash (rows left in flight by a dead sender)', async () => {
    const server = await sink();
    const { services, slug } = await setup(server.url);
    const issue = await requireIssue(services.db, slug);
    await planIssueDeliveries(services.db, issue.id, nowIso());
    // The state a kill -9 leaves: some rows sent, some claimed by a sender whose process is gone.
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid ?? 0;
    const dead = `${os.hostname()}:${deadPid}:dead`;
    await services.db
      .insertInto('senders')
      .values({
        id: dead,
        host: os.hostname(),
        pid: deadPid,
        started_at: nowIso(),
        lease_until_ms: Date.now() + 600_000,
        last_seen_ms: Date.now(),
        stopped_at: null,
      })
      .execute();
    const ids = (await deliveriesOf(services.db, slug)).map((d) => d.id);
    await services.db
      .updateTable('deliveries')
      .set({ status: 'sent', attempts: 1, sent_at: nowIso() })
      .where('id', 'in', ids.slice(0, 3))
      .execute();
    await services.db
      .updateTable('deliveries')
      .set({ status: 'sending', claimed_at: nowIso(), claimed_by: dead })
      .where('id', 'in', ids.slice(3, 6))
      .execute();

    await scheduler(services);
    await sendReaches(services, slug, 'sent');
    expect(server.received.map((m) => m.envelopeTo[0]).sort()).toEqual(
      (await deliveriesOf(services.db, slug))
        .slice(3)
        .map((d) => d.email)
        .sort(),
    );
  });

  it('does not resume a paused issue on its own; resume continues it at once', async () => {
    const slow = await startSlowSink(40);
    cleanups.push(() => slow.close());
    const { services, slug } = await setup(slow.url, 30);
    await scheduleThenLetTimePass(services, slug);
    let paused = false;
    slow.onRecorded = (n) => {
      if (n === 5 && !paused) {
        paused = true;
        void pauseSend(services, slug);
      }
    };
    const running = await scheduler(services);
    await sendReaches(services, slug, 'paused');
    // The messages in flight at the pause finish; then no sender holds the issue.
    await eventually(
      'the messages in flight to finish and every claim to be let go',
      () => sendStatus(services, slug),
      {
        holds: (s) => s.counts.sending === 0 && s.senders.every((x) => x.claims === 0),
      },
    );
    const atPause = slow.received.length;
    expect(atPause).toBeLessThan(30);
    // A tick does not resume it, so nothing can go out until an editor resumes.
    expect(await running.tick()).toEqual([]);
    const status = await sendStatus(services, slug);
    expect(status).toMatchObject({ status: 'paused', pauseReason: 'paused by an editor' });
    expect(status.counts.sending).toBe(0);
    expect(slow.received.length).toBe(atPause);

    await resumeSend(services, slug);
    await sendReaches(services, slug, 'sent');
    expect(new Set(slow.received.map((m) => m.to)).size).toBe(30);
    expect(slow.received).toHaveLength(30);
  });

  it('stop() drains in-flight messages and leaves nothing in doubt', async () => {
    const slow = await startSlowSink(60);
    cleanups.push(() => slow.close());
    const { services, slug } = await setup(slow.url, 40);
    await scheduleThenLetTimePass(services, slug);
    const running = await startScheduler(services);
    await new Promise<void>((resolve) => {
      slow.onRecorded = (n) => n === 6 && resolve();
    });
    await running.stop();
    const rows = await deliveriesOf(services.db, slug);
    expect(rows.filter((r) => r.status === 'sending')).toHaveLength(0);
    expect(
      rows
        .filter((r) => r.status === 'sent')
        .map((r) => r.email)
        .sort(),
    ).toEqual(slow.received.map((m) => m.to).sort());
    const status = await sendStatus(services, slug);
    expect(status.status).toBe('sending');
    expect(status.senders.filter((s) => s.alive)).toEqual([]);
  });
});
