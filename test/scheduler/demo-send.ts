import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import type { Services } from '../../src/app/services.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { insertSubscribers } from './fixtures.js';
import { newSubscriberUid } from '../../subscribers/tokens.js';

/** The project's own demo issue (no ../shared needed) and its topics. */
export const DEMO_TOPICS = ['getting-started', 'editions', 'sending', 'privacy'] as const;

export interface DemoSend {
  env: TempEnv;
  services: Services;
  slug: string;
}

/**
 * A temp DATA_DIR with the demo issue and `subscribers` active readers `r0@example.org`…, a third of
 * them with no topic (the whole issue), the rest with one or two demo topics.
 */
export async function demoSend(
  subscribers: number,
  extraEnv: Record<string, string>,
  cleanups: (() => Promise<void> | void)[],
): Promise<DemoSend> {
  const env = makeTempEnv(extraEnv);
  cleanups.push(() => env.cleanup());
  const services = await env.open();
  cleanups.push(() => services.close());
  const { slug } = await importFolder(services.db, DEMO_DIR);
  await insertDemoReaders(services, subscribers);
  return { env, services, slug };
}

export async function insertDemoReaders(services: Services, count: number, from = 0): Promise<void> {
  await insertSubscribers(
    services.db,
    Array.from({ length: count }, (_, k) => {
      const i = from + k;
      const topics: string[] =
        i % 3 === 0 ? [] : i % 3 === 1 ? [DEMO_TOPICS[i % 4] ?? 'editions'] : ['sending', 'privacy'];
      return { email: `r${i}@example.org`, topics };
    }),
  );
}

/** Inserts many readers fast (one transaction, multi-row inserts): `r{from}@example.org`… */
export async function insertManyReaders(services: Services, count: number, from = 0): Promise<void> {
  const topics = new Map(
    (await services.db.selectFrom('topics').select(['id', 'slug']).execute()).map((t) => [t.slug, t.id]),
  );
  const now = new Date().toISOString();
  await services.db.transaction().execute(async (trx) => {
    for (let start = from; start < from + count; start += 500) {
      const rows = Array.from({ length: Math.min(500, from + count - start) }, (_, k) => ({
        uid: newSubscriberUid(),
        email: `r${start + k}@example.org`,
        name: '',
        status: 'active' as const,
        created_at: now,
        confirmed_at: now,
        unsubscribed_at: null,
        updated_at: now,
      }));
      const ids = await trx.insertInto('subscribers').values(rows).returning('id').execute();
      const links = ids.flatMap(({ id }, k) => {
        const slug = DEMO_TOPICS[(start + k) % DEMO_TOPICS.length] ?? 'editions';
        return (start + k) % 3 === 0 ? [] : [{ subscriber_id: id, topic_id: topics.get(slug) ?? 0 }];
      });
      if (links.length > 0) await trx.insertInto('subscriber_topics').values(links).execute();
    }
  });
}
