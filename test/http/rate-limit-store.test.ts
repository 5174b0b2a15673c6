import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Options } from 'express-rate-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { SqlRateLimitStore } from '../../src/http/rate-limit-store.js';
import { createWebApp } from '../../src/web/server.js';
import { SIGNUP_LIMITS } from '../../subscribers/signup.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { testDialect } from '../helpers/test-database.js';
import { Client } from '../subscribers/web-harness.js';

let temp: TempEnv;
let sink: SmtpSink;
const opened: Services[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  sink = await startSmtpSink();
  temp = makeTempEnv({ SMTP_URL: sink.url });
});
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  for (const services of opened) await services.close();
  await sink?.close();
  temp?.cleanup();
});

/** The service opened once more on the same database: its own connections, as another process has. */
async function openAnother(): Promise<Services> {
  const services = await temp.open();
  opened.push(services);
  return services;
}

async function serve(services: Services): Promise<string> {
  const server = createWebApp(services).listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function storeOn(services: Services, prefix: string, clock: { ms: number }, windowMs = 60_000): SqlRateLimitStore {
  const store = new SqlRateLimitStore({
    db: services.db,
    secret: services.config.secretKey,
    prefix,
    now: () => clock.ms,
  });
  store.init({ windowMs } as Options);
  return store;
}

describe(`rate-limit counts in the database (${testDialect()})`, () => {
  it('counts hits in a window, starts a new window when it ends, and stores no client key in the clear', async () => {
    const services = await openAnother();
    const clock = { ms: Date.UTC(2031, 0, 1) };
    const store = storeOn(services, 'unit', clock);
    expect((await store.increment('ada@example.org')).totalHits).toBe(1);
    const second = await store.increment('ada@example.org');
    expect(second.totalHits).toBe(2);
    expect(second.resetTime?.getTime()).toBe(clock.ms + 60_000);
    expect((await store.increment('bob@example.org')).totalHits).toBe(1);

    await store.decrement('ada@example.org');
    expect((await store.get('ada@example.org'))?.totalHits).toBe(1);

    clock.ms += 60_000;
    expect(await store.get('ada@example.org')).toBeUndefined();
    const fresh = await store.increment('ada@example.org');
    expect(fresh.totalHits).toBe(1);
    expect(fresh.resetTime?.getTime()).toBe(clock.ms + 60_000);

    await store.resetKey('bob@example.org');
    expect(await store.get('bob@example.org')).toBeUndefined();

    // Another limiter counting the same client keeps its own count.
    expect((await storeOn(services, 'other', clock).increment('ada@example.org')).totalHits).toBe(1);
    const keys = await services.db.selectFrom('rate_limits').select('key').execute();
    expect(keys.length).toBeGreaterThan(0);
    for (const { key } of keys) expect(key).not.toContain('example.org');
  });

  it('sweeps the windows that have ended as new hits arrive', async () => {
    const services = await openAnother();
    const clock = { ms: Date.UTC(2031, 0, 3) };
    const store = storeOn(services, 'sweep', clock);
    await store.increment('gone@example.org');
    clock.ms += 60_000;
    const rows = () => services.db.selectFrom('rate_limits').select('key').execute();
    const before = (await rows()).length;
    // A sweep runs every 500th hit of a store; this store has counted 1 so far.
    for (let i = 1; i < 499; i++) await store.increment('client');
    expect(await rows()).toHaveLength(before + 1);
    await store.increment('client');
    expect((await rows()).length).toBeLessThanOrEqual(before);
    expect(await store.get('client')).toMatchObject({ totalHits: 499 });
  });

  it('two stores on two connections count one client together, hit by hit', async () => {
    const clock = { ms: Date.UTC(2031, 0, 2) };
    const one = storeOn(await openAnother(), 'shared', clock);
    const two = storeOn(await openAnother(), 'shared', clock);
    const hits = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? one : two).increment('198.51.100.9')),
    );
    // Each hit saw a count of its own: no two hits read the same count and wrote the same next one.
    expect(hits.map((h) => h.totalHits).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('two web servers on one database share the sign-up limit of one client', async () => {
    const bases = [await serve(await openAnother()), await serve(await openAnother())];
    const post = async (base: string, i: number) => {
      const client = new Client(base);
      const csrf = await client.csrfFrom('/subscribe');
      const body = new URLSearchParams({ _csrf: csrf, email: `not-an-address-${i}` });
      return (
        await client.request('/subscribe', { method: 'POST', body, headers: { 'x-forwarded-for': '203.0.113.50' } })
      ).status;
    };
    const statuses: number[] = [];
    // Alternating servers: each alone has seen only half the limit when the client reaches it.
    for (let i = 0; i <= SIGNUP_LIMITS.perIp.limit; i++) statuses.push(await post(bases[i % 2] as string, i));
    expect(statuses.slice(0, SIGNUP_LIMITS.perIp.limit).every((s) => s === 400)).toBe(true);
    expect(statuses[SIGNUP_LIMITS.perIp.limit]).toBe(429);
    expect(await post(bases[0] as string, 99)).toBe(429);
    expect(await post(bases[1] as string, 100)).toBe(429);
  });
});
