import { describe, expect, it } from 'vitest';
import { defaultTuning, SendManager, type SendTuning } from '../../scheduler/send-manager.js';
import {
  connectionRefused,
  MemoryDeliveryStore,
  MemoryEditions,
  memoryMessages,
  MemoryTransport,
  recipientOf,
  smtpReply,
} from './in-memory-send.js';

// The engine alone, against in-memory implementations of its store and transport: no database, no
// network, milliseconds per test. The same behaviours on SQLite and a real SMTP server are in
// failures.test.ts, smtp-faults.test.ts and crash.test.ts.

function tuning(overrides: Partial<SendTuning> = {}): SendTuning {
  return { ...defaultTuning(2), retryBaseMs: 20, retryMaxMs: 1000, controlPollMs: 20, ...overrides };
}

function manager(
  store: MemoryDeliveryStore,
  transport: MemoryTransport,
  overrides: Partial<SendTuning> = {},
  editions = new MemoryEditions(),
): SendManager {
  return new SendManager({ store, transport, editions, messages: memoryMessages }, { tuning: tuning(overrides) });
}

function list(store: MemoryDeliveryStore, count: number, key = '*'): void {
  for (let i = 0; i < count; i++) store.add(key, `r${i}@example.org`);
}

describe('SendManager against in-memory store and transport', () => {
  it('sends every pending delivery once and finishes the issue', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 25);
    const transport = new MemoryTransport();
    const result = await manager(store, transport).run();
    expect(result.outcome).toBe('finished');
    expect(result.counts).toMatchObject({ planned: 25, sent: 25, pending: 0, sending: 0 });
    expect(transport.accepted.map(recipientOf).sort()).toEqual(store.deliveries.map((d) => d.subscriber.email).sort());
    expect(store.status).toBe('sent');
  });

  it('claims and sends in (edition key, id) order', async () => {
    const store = new MemoryDeliveryStore();
    for (const [key, email] of [
      ['smart-city', 'a@example.org'],
      ['*', 'b@example.org'],
      ['blockchain', 'c@example.org'],
      ['*', 'd@example.org'],
      ['blockchain', 'e@example.org'],
    ] as const)
      store.add(key, email);
    const transport = new MemoryTransport();
    await manager(store, transport, { inFlight: 1, batchSize: 2 }).run();
    expect(transport.accepted.map(recipientOf)).toEqual([
      'b@example.org',
      'd@example.org',
      'c@example.org',
      'e@example.org',
      'a@example.org',
    ]);
    expect(store.claims.filter((c) => c.length > 0)).toEqual([[2, 4], [3, 5], [1]]);
  });

  it('backs off exponentially on 4xx replies, then sends', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 3);
    const transport = new MemoryTransport((message, attempt) =>
      recipientOf(message) === 'r1@example.org' && attempt <= 3 ? smtpReply(451, '451 4.7.1 Try later') : undefined,
    );
    const result = await manager(store, transport, { retryBaseMs: 40, retryMaxMs: 10_000 }).run();
    expect(result.outcome).toBe('finished');
    expect(store.byEmail('r1@example.org')).toMatchObject({ status: 'sent', attempts: 4 });
    const delays = store.retries.map((r) => r.delayMs);
    expect(store.retries.map((r) => r.attempts)).toEqual([1, 2, 3]);
    // 40, 80, 160 ms, each within the ±10 % jitter.
    [40, 80, 160].forEach((base, i) => {
      expect(delays[i]).toBeGreaterThanOrEqual(base * 0.9 - 1);
      expect(delays[i]).toBeLessThanOrEqual(base * 1.1 + 1);
    });
  });

  it('gives up after maxAttempts with the last reply', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 2);
    const transport = new MemoryTransport((message) =>
      recipientOf(message) === 'r0@example.org' ? smtpReply(452, '452 4.2.2 Mailbox full') : undefined,
    );
    const result = await manager(store, transport, { maxAttempts: 3 }).run();
    expect(result.outcome).toBe('finished');
    expect(store.byEmail('r0@example.org')).toMatchObject({
      status: 'failed',
      attempts: 3,
      lastError: 'gave up after 3 attempts: 452 4.2.2 Mailbox full',
    });
  });

  it('pauses automatically when the server is down, and marks nobody', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 40);
    const transport = new MemoryTransport(() => connectionRefused());
    const result = await manager(store, transport).run();
    expect(result.outcome).toBe('paused');
    expect(result.reason).toMatch(/^Paused automatically: \d+ of the last \d+ messages failed.*ECONNREFUSED/);
    expect(store.status).toBe('paused');
    expect(store.deliveries.every((d) => d.status === 'pending')).toBe(true);
  });

  it('does not judge the server on a sample of one: a failed lone retry is retried, not a pause', async () => {
    // Issue 9 item 16: a relay dropping one connection in three paused a send after one failed retry.
    const store = new MemoryDeliveryStore();
    store.add('*', 'retry@example.org', { attempts: 1, lastError: 'connection dropped' });
    const transport = new MemoryTransport((_m, attempt) => (attempt === 1 ? connectionRefused() : undefined));
    const result = await manager(store, transport).run();
    expect(result.outcome).toBe('finished');
    expect(store.byEmail('retry@example.org')).toMatchObject({ status: 'sent', attempts: 3 });
  });

  it('tolerates one connection in three dropped over a long list', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 60);
    let n = 0;
    const transport = new MemoryTransport(() => (++n % 3 === 0 ? connectionRefused() : undefined));
    const result = await manager(store, transport).run();
    expect(result.outcome).toBe('finished');
    expect(store.deliveries.every((d) => d.status === 'sent')).toBe(true);
  });

  it('pauses, marking nobody, when the server refuses our sender', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 20);
    const transport = new MemoryTransport(() =>
      smtpReply(553, '553 5.1.8 <news@example.org>: Sender address rejected: Domain not found', 'MAIL FROM'),
    );
    const result = await manager(store, transport).run();
    expect(result.outcome).toBe('paused');
    expect(result.reason).toMatch(/refused our sender.*553 5\.1\.8/);
    expect(store.deliveries.every((d) => d.status === 'pending' && !d.bounced)).toBe(true);
    expect(store.pauseReason).toBe(result.reason);
  });

  it('stops with the reason when the store says a bounce tripped the safety net', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 10);
    store.bounceNetReason = 'Paused: 21 of the first 100 recipients bounced';
    const transport = new MemoryTransport(() => smtpReply(550, '550 5.1.1 No such user', 'RCPT TO'));
    const result = await manager(store, transport).run();
    expect(result.outcome).toBe('paused');
    expect(result.reason).toBe(store.bounceNetReason);
    expect(store.deliveries.some((d) => d.bounced)).toBe(false);
  });

  it('builds each edition once, keeps a few, and rebuilds one a late retry revisits', async () => {
    // The first reader of edition "a" is deferred once; by its retry five other editions were built.
    // The clock stands still until every other reader is sent, so however slow the machine, the
    // retry never falls due before that (with a real clock, a loaded machine retried it at "b").
    const start = Date.now();
    const othersSent = (): boolean =>
      store.deliveries.every((d) => d.status === 'sent' || d.subscriber.email === 'a0@example.org');
    const clock = (): Date => new Date(othersSent() ? start + 60_000 : start);
    const store: MemoryDeliveryStore = new MemoryDeliveryStore(clock);
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const key of keys) for (let i = 0; i < 3; i++) store.add(key, `${key}${i}@example.org`);
    const editions = new MemoryEditions();
    const transport = new MemoryTransport((message, attempt) =>
      recipientOf(message) === 'a0@example.org' && attempt === 1 ? smtpReply(451, '451 4.3.0 Later') : undefined,
    );
    const result = await new SendManager(
      { store, transport, editions, messages: memoryMessages, now: clock },
      { tuning: tuning({ inFlight: 1, batchSize: 3 }) },
    ).run();
    expect(result.outcome).toBe('finished');
    expect(editions.built).toEqual([...keys, 'a']);
    expect(result.editionsBuilt).toBe(6);
  });

  it('on stop drains: messages in flight finish and are recorded, claimed ones go back to pending', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 20);
    const transport = new MemoryTransport(() => 'hold');
    const engine = manager(store, transport, { inFlight: 6, connections: 4, batchSize: 10 });
    const running = engine.run();
    await transport.whenHeld(4);
    engine.requestStop('stopped', 'SIGTERM');
    transport.releaseHeld();
    const result = await running;
    expect(result.outcome).toBe('stopped');
    expect(store.deliveries.filter((d) => d.status === 'sent')).toHaveLength(4);
    expect(store.deliveries.filter((d) => d.status === 'pending')).toHaveLength(16);
    expect(transport.aborted).toBe(0);
  });

  it('hands the transport no more than one message per connection; the next waits ready', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 12);
    const transport = new MemoryTransport(() => 'hold');
    const engine = manager(store, transport, { inFlight: 6, connections: 3 });
    const running = engine.run();
    await transport.whenHeld(3);
    // Let every worker get as far as it can: none gets past the three held at the transport.
    await new Promise((resolve) => setImmediate(resolve));
    expect(transport.attempts.size).toBe(3);
    engine.requestStop('stopped', 'test over');
    transport.releaseHeld();
    const result = await running;
    expect(result.counts).toMatchObject({ sent: 3, pending: 9 });
  });

  it('drops messages whose reply is overdue at stop: pending again with no attempt counted', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 10);
    const transport = new MemoryTransport(() => 'hold');
    const engine = manager(store, transport, { inFlight: 4, connections: 3, drainMs: 30 });
    const running = engine.run();
    await transport.whenHeld(3);
    engine.requestStop('stopped', 'SIGTERM');
    const result = await running;
    expect(result.outcome).toBe('stopped');
    expect(transport.aborted).toBe(1);
    expect(store.deliveries.every((d) => d.status === 'pending' && d.attempts === 0)).toBe(true);
  });

  it('stops when an editor pauses or cancels elsewhere, within its poll', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 30);
    let sent = 0;
    const transport = new MemoryTransport(() => {
      if (++sent === 5) store.status = 'cancelled';
      return undefined;
    }, 5);
    const result = await manager(store, transport, { inFlight: 1 }).run();
    expect(result.outcome).toBe('cancelled');
    expect(store.deliveries.filter((d) => d.status === 'sent').length).toBeLessThan(30);
    expect(store.deliveries.some((d) => d.status === 'pending' || d.status === 'sending')).toBe(false);
  });

  it('writes no result for a claim taken over meanwhile, and stops before its next message', async () => {
    // Issue 9 item 6: this sender stalled, another took its claims over after its lease ran out.
    const store = new MemoryDeliveryStore();
    list(store, 10);
    const transport = new MemoryTransport(() => 'hold');
    const engine = manager(store, transport, { inFlight: 2, connections: 2 });
    const running = engine.run();
    await transport.whenHeld(2);
    for (const d of store.deliveries.filter((d) => d.status === 'sending')) d.claimedBy = 'other-sender';
    transport.releaseHeld();
    const result = await running;
    expect(result.outcome).toBe('stopped');
    expect(result.reason).toMatch(/lost its claims/);
    // Only the two in flight left this sender; every claim stays the other sender's, unwritten.
    expect(transport.accepted).toHaveLength(2);
    expect(store.deliveries.filter((d) => d.status === 'sent')).toHaveLength(0);
    expect(store.deliveries.every((d) => d.status === 'sending' && d.claimedBy === 'other-sender')).toBe(true);
  });

  it('checks its lease before every message and stops at once when it is lost', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 10);
    let checks = 0;
    const lease = { ensure: () => Promise.resolve(++checks <= 3) };
    const transport = new MemoryTransport();
    const engine = new SendManager(
      { store, transport, lease, editions: new MemoryEditions(), messages: memoryMessages },
      { tuning: tuning({ inFlight: 1, connections: 1 }) },
    );
    const result = await engine.run();
    expect(result.outcome).toBe('stopped');
    expect(result.reason).toMatch(/lost its lease/);
    expect(transport.accepted).toHaveLength(3);
    expect(store.deliveries.filter((d) => d.status === 'pending')).toHaveLength(7);
  });

  it('waits at the shared rate gate before every message', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 6);
    let granted = 0;
    const transport = new MemoryTransport();
    const rate = {
      acquire: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        granted++;
        expect(transport.accepted.length).toBe(granted - 1);
      },
    };
    const engine = new SendManager(
      { store, transport, rate, editions: new MemoryEditions(), messages: memoryMessages },
      { tuning: tuning({ inFlight: 1, connections: 1 }) },
    );
    expect((await engine.run()).outcome).toBe('finished');
    expect(granted).toBe(6);
  });

  it('skips subscribers who left after planning, without mailing them', async () => {
    const store = new MemoryDeliveryStore();
    list(store, 3);
    store.byEmail('r1@example.org').subscriber.status = 'unsubscribed';
    const transport = new MemoryTransport();
    await manager(store, transport).run();
    expect(transport.accepted.map(recipientOf).sort()).toEqual(['r0@example.org', 'r2@example.org']);
    expect(store.byEmail('r1@example.org')).toMatchObject({
      status: 'skipped',
      lastError: 'subscriber no longer active',
    });
  });
});
