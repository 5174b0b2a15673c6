import { afterEach, describe, expect, it } from 'vitest';
import { spawnNewsletter } from './child.js';
import { deliveriesOf, insertSubscribers } from './fixtures.js';
import { startSlowSink, type SlowSink } from './slow-sink.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { importLongIssue } from '../fixtures/long-issue.js';

const CONCURRENCY = 3;
const SUBSCRIBERS = 40;

/** `newsletter send <slug>` as a real separate process. */
function spawnSend(env: TempEnv, smtpUrl: string, slug: string) {
  const run = spawnNewsletter(['send', slug], env.dir, {
    ...env.env,
    SMTP_URL: smtpUrl,
    SEND_CONCURRENCY: String(CONCURRENCY),
    LOG_LEVEL: 'warn',
  });
  return { process: run.child, output: run.output, exit: run.exit };
}

async function prepare(): Promise<{ env: TempEnv; slug: string }> {
  const env = makeTempEnv();
  const services = await env.open();
  const slug = await importLongIssue(services);
  await insertSubscribers(
    services.db,
    Array.from({ length: SUBSCRIBERS }, (_, i) => ({
      email: `reader${i}@example.org`,
      topics: i % 3 === 0 ? [] : ['connected-devices'],
    })),
  );
  await services.close();
  return { env, slug };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('crash safety (real child processes)', () => {
  it('after kill -9 mid-send, `send` again finishes: nobody missing, duplicates only in flight, same Message-ID', async () => {
    const { env, slug } = await prepare();
    cleanups.push(() => env.cleanup());
    const sink: SlowSink = await startSlowSink(150);
    cleanups.push(() => sink.close());

    const first = spawnSend(env, sink.url, slug);
    // Killed the moment the server holds a message it has not yet acknowledged.
    sink.onRecorded = (count) => {
      if (count === 12) first.process.kill('SIGKILL');
    };
    const killed = await first.exit;
    expect(killed.signal, first.output()).toBe('SIGKILL');
    sink.onRecorded = undefined;

    const services = await env.open();
    cleanups.push(() => services.close());
    // The dead process left its claimed batch in `sending` (in flight or queued behind).
    const claimed = (await deliveriesOf(services.db, slug)).filter((r) => r.status === 'sending');
    expect(claimed.length).toBeGreaterThan(0);

    const second = spawnSend(env, sink.url, slug);
    const resumed = await second.exit;
    expect(resumed.code, second.output()).toBe(0);
    expect(second.output()).toMatch(/Resumed an interrupted send/);

    const rows = await deliveriesOf(services.db, slug);
    expect(rows).toHaveLength(SUBSCRIBERS);
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    const copies = new Map<string, string[]>();
    for (const m of sink.received) copies.set(m.to, [...(copies.get(m.to) ?? []), m.messageId]);
    expect(copies.size).toBe(SUBSCRIBERS);
    const duplicated = [...copies.entries()].filter(([, ids]) => ids.length > 1);
    // The message the server held at the kill came twice; never more than one per connection.
    expect(duplicated.length).toBeGreaterThanOrEqual(1);
    expect(duplicated.length).toBeLessThanOrEqual(CONCURRENCY);
    for (const [, ids] of duplicated) {
      expect(ids).toHaveLength(2);
      expect(new Set(ids).size).toBe(1);
    }
    const issue = await services.db
      .selectFrom('issues')
      .select('status')
      .where('slug', '=', slug)
      .executeTakeFirstOrThrow();
    expect(issue.status).toBe('sent');
  });

  it('on SIGTERM drains the messages in flight and stops with nothing in doubt; the rerun sends no duplicate', async () => {
    const { env, slug } = await prepare();
    cleanups.push(() => env.cleanup());
    const sink = await startSlowSink(100);
    cleanups.push(() => sink.close());

    const first = spawnSend(env, sink.url, slug);
    sink.onRecorded = (count) => {
      if (count === 10) first.process.kill('SIGTERM');
    };
    const stopped = await first.exit;
    sink.onRecorded = undefined;
    expect(stopped.code, first.output()).toBe(143);
    expect(first.output()).toMatch(/Stopped .*nothing is in doubt/);

    const services = await env.open();
    cleanups.push(() => services.close());
    const rows = await deliveriesOf(services.db, slug);
    expect(rows.filter((r) => r.status === 'sending')).toHaveLength(0);
    // Everything the server took is recorded as sent, and nothing else.
    const sent = rows.filter((r) => r.status === 'sent').map((r) => r.email);
    expect(sent.sort()).toEqual(sink.received.map((m) => m.to).sort());
    expect(sent.length).toBeLessThan(SUBSCRIBERS);

    const second = spawnSend(env, sink.url, slug);
    expect((await second.exit).code, second.output()).toBe(0);
    const recipients = sink.received.map((m) => m.to);
    expect(recipients).toHaveLength(SUBSCRIBERS);
    expect(new Set(recipients).size).toBe(SUBSCRIBERS);
  });
});
