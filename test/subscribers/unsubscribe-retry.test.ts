import SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { openDatabase } from '../../src/db/database.js';
import { createLogger } from '../../src/log/logger.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import {
  eraseSubscriber,
  findSubscriberByEmail,
  listConsentLog,
  recordUnsubscribeRequest,
} from '../../subscribers/subscriber-repository.js';
import { applyRecordedUnsubscribes, UnsubscribeRetry } from '../../subscribers/unsubscribe-retry.js';
import { startChildServer } from '../helpers/child-server.js';
import { eventually } from '../helpers/eventually.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { testDialect } from '../helpers/test-database.js';

// Issue 9 item 3: a recorded one-click unsubscribe that could not be applied at once is applied
// later from the table, whatever held it up, and survives a restart. Real SQLite file and locks.

const logger = createLogger('silent');
let temp: TempEnv;
let services: Services;

beforeEach(async () => {
  temp = makeTempEnv();
  services = await temp.open();
});
afterEach(async () => {
  await services.close();
  temp.cleanup();
});

async function subscriber(email: string) {
  await addSubscriber(services.db, temp.config.secretKey, { email }, { source: 'cli' });
  return (await findSubscriberByEmail(services.db, email))!;
}

const requestFor = (uid: string) => ({
  uid,
  context: { source: 'one-click' as const, ip: '192.0.2.7', userAgent: 'Mail provider' },
  detail: 'RFC 8058 List-Unsubscribe=One-Click',
});

async function pending(): Promise<{ id: string; attempts: number; last_error: string | null }[]> {
  return services.db.selectFrom('unsubscribe_requests').select(['id', 'attempts', 'last_error']).execute();
}

describe('recorded unsubscribes', () => {
  // SQLite's write lock held by another connection; PostgreSQL has no such lock.
  it.skipIf(testDialect() === 'postgres')(
    'stay recorded while the database is locked past their wait, and are applied on the next pass',
    async () => {
      const ann = await subscriber('ann@example.org');
      await recordUnsubscribeRequest(services.db, requestFor(ann.uid));
      const impatient = openDatabase(temp.config.databaseUrl, { lockWaitMs: 100 });
      const other = new SQLite(temp.config.databaseUrl, { timeout: 0 });
      try {
        other.exec('begin immediate');
        expect(await applyRecordedUnsubscribes(impatient, logger)).toBe(0);
        other.exec('rollback');
        expect(await pending()).toHaveLength(1);
        expect((await findSubscriberByEmail(services.db, 'ann@example.org'))?.status).toBe('active');

        expect(await applyRecordedUnsubscribes(impatient, logger)).toBe(1);
        expect(await pending()).toEqual([]);
        expect((await findSubscriberByEmail(services.db, 'ann@example.org'))?.status).toBe('unsubscribed');
        expect((await listConsentLog(services.db, ann.id)).at(-1)).toMatchObject({
          action: 'unsubscribe',
          source: 'one-click',
          ip: '192.0.2.7',
          userAgent: 'Mail provider',
          detail: expect.stringMatching(/^RFC 8058 List-Unsubscribe=One-Click/),
        });
      } finally {
        other.close();
        await impatient.destroy();
      }
    },
  );

  it('erasure takes recorded requests with it; a request for an erased subscriber is dropped, not kept', async () => {
    const bob = await subscriber('bob@example.org');
    const carl = await subscriber('carl@example.org');
    await recordUnsubscribeRequest(services.db, requestFor(bob.uid));
    await recordUnsubscribeRequest(services.db, requestFor(carl.uid));
    await eraseSubscriber(services.db, carl.id, 'hash');
    // Erasure takes the person's recorded requests with it.
    expect(await pending()).toHaveLength(1);
    await recordUnsubscribeRequest(services.db, requestFor(carl.uid));
    expect(await applyRecordedUnsubscribes(services.db, logger)).toBe(2);
    expect(await pending()).toEqual([]);
    expect((await findSubscriberByEmail(services.db, 'bob@example.org'))?.status).toBe('unsubscribed');
  });

  it('UnsubscribeRetry applies what is recorded, pass after pass, until stopped', async () => {
    const dora = await subscriber('dora@example.org');
    const retry = new UnsubscribeRetry({ db: services.db, logger, intervalMs: 50 });
    retry.start();
    try {
      await recordUnsubscribeRequest(services.db, requestFor(dora.uid));
      await eventually('the retry to apply the request', () => findSubscriberByEmail(services.db, 'dora@example.org'), {
        holds: (s) => s?.status === 'unsubscribed',
      });
    } finally {
      await retry.stop();
    }
    expect(await pending()).toEqual([]);
  });

  it('survive a restart: `newsletter serve` applies what an earlier process recorded', async () => {
    const eve = await subscriber('eve@example.org');
    await recordUnsubscribeRequest(services.db, requestFor(eve.uid));
    const server = await startChildServer(temp.env, 60_000);
    try {
      await eventually(
        () => `serve to apply the request:\n${server.output()}`,
        () => findSubscriberByEmail(services.db, 'eve@example.org'),
        { holds: (s) => s?.status === 'unsubscribed' },
      );
    } finally {
      await server.stop();
    }
    expect(await pending()).toEqual([]);
  }, 90_000);
});
