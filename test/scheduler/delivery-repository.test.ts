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
import { readDbNowMs } from '../../scheduler/db-clock.js';
import { registerSender } from '../../scheduler/sender-repository.js';
import { eventually } from '../helpers/eventually.js';
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
    // A topic that only an article's extra topics carry (no section of its own in this issue).
    await insertUnusedTopic(services.db, 'walking');
    const walking = await services.db
      .selectFrom('topics')
      .select('id')
      .where('slug', '=', 'walking')
      .executeTakeFirstOrThrow();
    const article = await services.db
      .selectFrom('issue_articles as ia')
      .innerJoin('issues as i', 'i.id', 'ia.issue_id')
      .select('ia.article_id')
      .where('i.slug', '=', slug)
      .executeTakeFirstOrThrow();
    await services.db
      .insertInto('article_topics')
      .values({ article_id: article.article_id, topic_id: walking.id })
      .execute();
    await insertSubscribers(services.db, [
      { email: 'all@example.org' },
      { email: 'pair@example.org', topics: ['city-services', 'shared-ledgers'] },
      { email: 'garden@example.org', topics: ['gardening'] },
      { email: 'mixed@example.org', topics: ['gardening', 'open-data'] },
      { email: 'walker@example.org', topics: ['walking', 'shared-ledgers', 'gardening', 'city-services'] },
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
    expect(rows.map((r) => [r.email, r.edition_key, r.status, r.last_error])).toEqual([
      ['all@example.org', '*', 'pending', null],
      ['pair@example.org', 'city-services,shared-ledgers', 'pending', null],
      // No topic of theirs is in this issue: an empty edition, skipped rather than mailed.
      ['garden@example.org', '', 'skipped', 'none of the subscriber’s topics is in this issue'],
      // A topic absent from the issue does not split editions.
      ['mixed@example.org', 'open-data', 'pending', null],
      // Sorted whatever the order chosen; a topic carried only as an article's extra topic counts.
      ['walker@example.org', 'city-services,shared-ledgers,walking', 'pending', null],
    ]);
    const issue = await requireIssue(services.db, slug);
    expect(issue.status).toBe('sending');
    expect(issue.started_at).not.toBeNull();
  });

  it('is idempotent: planning again adds nothing, and later sign-ups are not added by a resume', async () => {
    await insertSubscribers(services.db, [
      { email: 'late@example.org' },
      { email: 'late-garden@example.org', topics: ['gardening'] },
    ]);
    expect(await planIssueDeliveries(services.db, issueId, nowIso())).toBe(false);
    expect((await countDeliveries(services.db, issueId)).planned).toBe(5);
    // The raw INSERT…SELECT is idempotent too (unique issue + subscriber): only the newcomers,
    // each written as planning writes it (skipped when none of their topics is in the issue).
    expect(await insertPlannedDeliveries(services.db, issueId, nowIso())).toBe(2);
    expect(await insertPlannedDeliveries(services.db, issueId, nowIso())).toBe(0);
    const late = (await deliveriesOf(services.db, slug)).filter((r) => r.email.startsWith('late'));
    expect(late.map((r) => [r.email, r.edition_key, r.status])).toEqual([
      ['late@example.org', '*', 'pending'],
      ['late-garden@example.org', '', 'skipped'],
    ]);
  });

  it('claims in (edition key, id) order and marks the claimed rows sending', async () => {
    const store = new SqlDeliveryStore(services.db, issueId, 'test-sender');
    const first = await store.claim(2);
    expect(first.map((d) => d.editionKey)).toEqual(['*', '*']);
    const rest = await store.claim(10);
    expect(rest.map((d) => d.editionKey)).toEqual([
      'city-services,shared-ledgers',
      'city-services,shared-ledgers,walking',
      'open-data',
    ]);
    expect(await store.claim(10)).toEqual([]);
    expect((await countDeliveries(services.db, issueId)).sending).toBe(5);
    await store.release([...first, ...rest].map((d) => d.id));
    expect((await countDeliveries(services.db, issueId)).pending).toBe(5);
  });

  it("does not claim a delivery before its next attempt time, due by the database's clock", async () => {
    const store = new SqlDeliveryStore(services.db, issueId, 'test-sender');
    const [one] = await store.claim(1);
    if (!one) throw new Error('nothing claimed');
    const before = await readDbNowMs(services.db);
    await store.markRetry(one.id, 1, 60_000, '451 try later');
    const after = await readDbNowMs(services.db);
    const others = await store.claim(10);
    expect(others.map((d) => d.id)).not.toContain(one.id);
    await store.release(others.map((d) => d.id));
    const row = await services.db
      .selectFrom('deliveries')
      .select(['status', 'attempts', 'next_attempt_at'])
      .where('id', '=', one.id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'pending', attempts: 1 });
    const due = Date.parse(row.next_attempt_at ?? '');
    // ± 1 ms: SQLite's clock read as epoch milliseconds and as text round differently.
    expect(due).toBeGreaterThanOrEqual(before + 60_000 - 1);
    expect(due).toBeLessThanOrEqual(after + 60_000 + 1);
    const dueInMs = await store.retryDueInMs();
    expect(dueInMs).toBeGreaterThan(0);
    expect(dueInMs).toBeLessThanOrEqual(60_000);

    // Due in a second: not claimed at once, claimed once the database's clock passed it.
    const [again] = await store.claim(1);
    if (!again) throw new Error('nothing claimed');
    await store.markRetry(again.id, 1, 1000, '451 try later');
    const rest = await store.claim(10);
    expect(rest.map((d) => d.id)).not.toContain(again.id);
    await eventually('the retry to come due', () => store.claim(10), {
      holds: (claimed) => claimed.some((d) => d.id === again.id),
    });
    // What is pending now is the first retry, a minute away.
    expect(await store.retryDueInMs()).toBeGreaterThan(1000);
    await store.release([...rest, again].map((d) => d.id));
  });
});
