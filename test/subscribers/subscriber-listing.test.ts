import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import type { SubscriberStatus } from '../../src/db/schema.js';
import { SubscriberCounts } from '../../subscribers/subscriber-counts.js';
import {
  countMatching,
  listSubscriberPage,
  type PageCursor,
  type SubscriberFilter,
} from '../../subscribers/subscriber-listing.js';
import {
  createSubscribers,
  eraseSubscriber,
  findSubscriberByEmail,
  resolveTopicSlugs,
  updateSubscriberProfile,
  withdrawSubscriber,
} from '../../subscribers/subscriber-repository.js';
import { QueryRecorder } from '../helpers/query-recorder.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// Issue 9 item 21: the editors' list pages in SQL with keyset cursors, on a real SQLite file.

const TOPICS = ['getting-started', 'editions', 'sending', 'privacy'];
const STATUSES: SubscriberStatus[] = ['active', 'active', 'active', 'pending', 'unsubscribed'];

interface Person {
  email: string;
  name: string;
  status: SubscriberStatus;
  topics: string[];
}

const people: Person[] = Array.from({ length: 1234 }, (_, i) => ({
  email: `reader${i}@example.org`,
  name: i % 97 === 0 ? `100%_sure ${i}` : `Reader ${i}`,
  status: STATUSES[i % STATUSES.length] as SubscriberStatus,
  topics: TOPICS.filter((_, k) => (i >> k) & 1),
}));

let temp: TempEnv;
let services: Services;
let idOf: Map<string, number>;

beforeAll(async () => {
  temp = makeTempEnv();
  services = await temp.open();
  await importFolder(services.db, DEMO_DIR);
  const { ids } = await resolveTopicSlugs(services.db, TOPICS);
  const topicId = new Map(TOPICS.map((slug, k) => [slug, ids[k] as number]));
  await services.db.transaction().execute((trx) =>
    createSubscribers(
      trx,
      people.map((p) => ({
        email: p.email,
        name: p.name,
        status: p.status === 'pending' ? 'pending' : 'active',
        topicIds: p.topics.map((t) => topicId.get(t) as number),
        action: 'subscribe',
        context: { source: 'cli' },
      })),
    ),
  );
  const rows = await services.db.selectFrom('subscribers').select(['id', 'email']).execute();
  idOf = new Map(rows.map((r) => [r.email, r.id]));
  for (const p of people.filter((p) => p.status === 'unsubscribed')) {
    await withdrawSubscriber(services.db, idOf.get(p.email) as number, 'unsubscribed', 'unsubscribe', {
      source: 'cli',
    });
  }
});
afterAll(async () => {
  await services?.close();
  temp?.cleanup();
});

function expected(filter: SubscriberFilter): number[] {
  return people
    .filter(
      (p) =>
        (!filter.status || p.status === filter.status) &&
        (!filter.q ||
          p.email.includes(filter.q.toLowerCase()) ||
          p.name.toLowerCase().includes(filter.q.toLowerCase())) &&
        (!filter.topic || (filter.topic === '*' ? p.topics.length === 0 : p.topics.includes(filter.topic))),
    )
    .map((p) => idOf.get(p.email) as number)
    .sort((a, b) => b - a);
}

async function walk(filter: SubscriberFilter, size: number) {
  const pages: number[][] = [];
  const cursors: PageCursor[] = [];
  let cursor: PageCursor = null;
  for (;;) {
    const page = await listSubscriberPage(services.db, filter, cursor, size);
    pages.push(page.subscribers.map((s) => s.id));
    cursors.push(page.newer);
    if (!page.older) break;
    cursor = page.older;
  }
  return { pages, newerOfEach: cursors };
}

describe('listSubscriberPage', () => {
  const filters: SubscriberFilter[] = [
    {},
    { status: 'active' },
    { status: 'pending', topic: 'editions' },
    { topic: '*' },
    { q: 'READER12' },
    { q: '100%_' },
    { q: '%' },
    { status: 'unsubscribed', q: 'reader1', topic: 'privacy' },
  ];

  it('walks every matching subscriber exactly once, newest first, page by page, and back again', async () => {
    for (const filter of filters) {
      const want = expected(filter);
      const { pages, newerOfEach } = await walk(filter, 100);
      expect(pages.flat(), JSON.stringify(filter)).toEqual(want);
      expect(pages.slice(0, -1).every((p) => p.length === 100)).toBe(true);
      expect(newerOfEach[0]).toBeNull();
      // Each page's "newer" cursor leads back to exactly the page before it.
      for (let i = 1; i < pages.length; i++) {
        const back = await listSubscriberPage(services.db, filter, newerOfEach[i] ?? null, 100);
        expect(back.subscribers.map((s) => s.id)).toEqual(pages[i - 1]);
      }
    }
  });

  it('takes the LIKE wildcards in a search literally', async () => {
    expect(expected({ q: '100%_' }).length).toBe(13);
    expect((await walk({ q: '%' }, 50)).pages.flat()).toEqual(expected({ q: '%' }));
  });

  it('returns the subscribers with their topics', async () => {
    const page = await listSubscriberPage(services.db, { q: 'reader7@' }, null, 10);
    expect(page.subscribers).toEqual([
      expect.objectContaining({ email: 'reader7@example.org', topicSlugs: ['getting-started', 'editions', 'sending'] }),
    ]);
    expect(page).toMatchObject({ newer: null, older: null });
  });
});

describe('countMatching', () => {
  it('counts exactly up to its cap and says when there are more', async () => {
    expect(await countMatching(services.db, { topic: 'sending' }, 10_000)).toEqual({
      count: expected({ topic: 'sending' }).length,
      capped: false,
    });
    expect(await countMatching(services.db, {}, 1000)).toEqual({ count: 1000, capped: true });
  });
});

describe('SubscriberCounts', () => {
  it('counts per status and per topic, and scans the topics again only after the list changed', async () => {
    const recorder = new QueryRecorder();
    const counts = new SubscriberCounts({ db: services.db.withPlugin(recorder) });
    const active = people.filter((p) => p.status === 'active');
    const first = await counts.current();
    expect(first.byStatus).toEqual({
      active: active.length,
      pending: people.filter((p) => p.status === 'pending').length,
      unsubscribed: people.filter((p) => p.status === 'unsubscribed').length,
      bounced: 0,
      complained: 0,
    });
    expect(first.total).toBe(people.length);
    const { ids } = await resolveTopicSlugs(services.db, TOPICS);
    expect(TOPICS.map((_, k) => first.topics.byTopic.get(ids[k] as number))).toEqual(
      TOPICS.map((t) => active.filter((p) => p.topics.includes(t)).length),
    );
    expect(first.topics.noTopic).toBe(active.filter((p) => p.topics.length === 0).length);
    expect(recorder.touched('subscriber_topics')).toBe(true);

    // Nothing changed: the next view does not go through every subscriber's topics again.
    recorder.reset();
    expect(await counts.current()).toEqual(first);
    expect(recorder.queries.length).toBeGreaterThan(0);
    expect(recorder.touched('subscriber_topics')).toBe(false);

    // A topic change, a withdrawal and an erasure each show at once.
    const zero = people.findIndex((p) => p.status === 'active' && p.topics.length === 0);
    const person = await findSubscriberByEmail(services.db, (people[zero] as Person).email);
    await updateSubscriberProfile(services.db, person!, { topicIds: [ids[3] as number] }, 'test', { source: 'cli' });
    const afterTopic = await counts.current();
    expect(afterTopic.topics.noTopic).toBe(first.topics.noTopic - 1);
    expect(afterTopic.topics.byTopic.get(ids[3] as number)).toBe((first.topics.byTopic.get(ids[3] as number) ?? 0) + 1);

    await withdrawSubscriber(services.db, person!.id, 'unsubscribed', 'unsubscribe', { source: 'cli' });
    const afterWithdrawal = await counts.current();
    expect(afterWithdrawal.byStatus.active).toBe(first.byStatus.active - 1);
    expect(afterWithdrawal.topics.byTopic.get(ids[3] as number)).toBe(first.topics.byTopic.get(ids[3] as number));

    const other = active.find((p) => p.topics.includes('editions'))!;
    await eraseSubscriber(services.db, idOf.get(other.email) as number, 'hash-of-erased');
    const afterErasure = await counts.current();
    expect(afterErasure.total).toBe(first.total - 1);
    expect(afterErasure.topics.byTopic.get(ids[1] as number)).toBe(
      (first.topics.byTopic.get(ids[1] as number) ?? 0) - 1,
    );
  });
});
