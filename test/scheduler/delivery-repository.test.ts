import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { nowIso } from '../../src/db/database.js';
import {
  countDeliveries,
  insertPlannedDeliveries,
  planIssueDeliveries,
  requireIssue,
  SqlDeliveryStore,
} from '../../scheduler/delivery-repository.js';
import { registerSender } from '../../scheduler/sender-repository.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { deliveriesOf, insertSubscribers, insertUnusedTopic } from './fixtures.js';
import { importLongIssue } from '../fixtures/long-issue.js';

describe('planning deliveries', () => {
  let env: TempEnv;
  let services: Services;
  let slug: string;
  let issueId: number;

  beforeAll(async () => {
    env = makeTempEnv();
    services = await env.open();
    slug = await importLongIssue(services);
    await insertUnusedTopic(services.db);
    await insertSubscribers(services.db, [
      { email: 'all@example.org' },
      { email: 'pair@example.org', topics: ['city-services', 'shared-ledgers'] },
      { email: 'garden@example.org', topics: ['gardening'] },
      { email: 'mixed@example.org', topics: ['gardening', 'open-data'] },
      { email: 'pending@example.org', status: 'pending' },
      { email: 'gone@example.org', status: 'unsubscribed' },
      { email: 'bounced@example.org', status: 'bounced' },
      { email: 'complained@example.org', status: 'complained' },
    ]);
    issueId = (await requireIssue(services.db, slug)).id;
    await registerSender(services.db, 'test-sender', 600_000, nowIso());
  });

  afterAll(async () => {
    await services?.close();
    env?.cleanup();
  });

  it('writes one delivery per active subscriber, keyed by their topics in this issue, and starts the issue', async () => {
    expect(await planIssueDeliveries(services.db, issueId, nowIso())).toBe(true);
    const rows = await deliveriesOf(services.db, slug);
    expect(rows.map((r) => [r.email, r.edition_key, r.status])).toEqual([
      ['all@example.org', '*', 'pending'],
      ['pair@example.org', 'city-services,shared-ledgers', 'pending'],
      // No topic of theirs is in this issue: an empty edition, skipped rather than mailed.
      ['garden@example.org', '', 'skipped'],
      // A topic absent from the issue does not split editions.
      ['mixed@example.org', 'open-data', 'pending'],
    ]);
    const issue = await requireIssue(services.db, slug);
    expect(issue.status).toBe('sending');
    expect(issue.started_at).not.toBeNull();
  });

  it('is idempotent: planning again adds nothing, and later sign-ups are not added by a resume', async () => {
    await insertSubscribers(services.db, [{ email: 'late@example.org' }]);
    expect(await planIssueDeliveries(services.db, issueId, nowIso())).toBe(false);
    expect((await countDeliveries(services.db, issueId)).planned).toBe(4);
    // The raw INSERT…SELECT is idempotent too (unique issue + subscriber): only the newcomer.
    expect(await insertPlannedDeliveries(services.db, issueId, nowIso())).toBe(1);
    expect(await insertPlannedDeliveries(services.db, issueId, nowIso())).toBe(0);
  });

  it('claims in (edition key, id) order and marks the claimed rows sending', async () => {
    const store = new SqlDeliveryStore(services.db, issueId, 'test-sender');
    const first = await store.claim(2, new Date());
    expect(first.map((d) => d.editionKey)).toEqual(['*', '*']);
    const rest = await store.claim(10, new Date());
    expect(rest.map((d) => d.editionKey)).toEqual(['city-services,shared-ledgers', 'open-data']);
    expect(await store.claim(10, new Date())).toEqual([]);
    expect((await countDeliveries(services.db, issueId)).sending).toBe(4);
    await store.release([...first, ...rest].map((d) => d.id));
    expect((await countDeliveries(services.db, issueId)).pending).toBe(4);
  });

  it('does not claim a delivery before its next attempt time', async () => {
    const store = new SqlDeliveryStore(services.db, issueId, 'test-sender');
    const [one] = await store.claim(1, new Date());
    if (!one) throw new Error('nothing claimed');
    const later = new Date(Date.now() + 60_000);
    await store.markRetry(one.id, 1, later, '451 try later');
    const claimed = await store.claim(10, new Date());
    expect(claimed.map((d) => d.id)).not.toContain(one.id);
    expect((await store.nextRetryAt())?.toISOString()).toBe(later.toISOString());
    expect((await store.claim(10, new Date(later.getTime() + 1))).map((d) => d.id)).toEqual([one.id]);
  });
});
