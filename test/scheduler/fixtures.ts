import type { Services } from '../../src/app/services.js';
import type { Db } from '../../src/db/database.js';
import { nowIso } from '../../src/db/database.js';
import type { IssueStatus, SubscriberStatus } from '../../src/db/schema.js';
import { sendStatus, type IssueSendStatus } from '../../scheduler/send-control.js';
import { newSubscriberUid } from '../../subscribers/tokens.js';
import { eventually } from '../helpers/eventually.js';

export interface TestSubscriber {
  email: string;
  name?: string;
  /** Topic slugs; empty or absent = every topic. */
  topics?: string[];
  status?: SubscriberStatus;
}

/** Inserts subscribers directly (the subscribers module's own rules are tested there). */
export async function insertSubscribers(db: Db, list: TestSubscriber[]): Promise<Map<string, number>> {
  const topics = new Map((await db.selectFrom('topics').select(['id', 'slug']).execute()).map((t) => [t.slug, t.id]));
  const ids = new Map<string, number>();
  const now = nowIso();
  for (const s of list) {
    const row = await db
      .insertInto('subscribers')
      .values({
        uid: newSubscriberUid(),
        email: s.email,
        name: s.name ?? '',
        status: s.status ?? 'active',
        created_at: now,
        confirmed_at: now,
        unsubscribed_at: null,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const slug of s.topics ?? []) {
      const topicId = topics.get(slug);
      if (topicId === undefined) throw new Error(`fixture: no topic ${slug}`);
      await db.insertInto('subscriber_topics').values({ subscriber_id: row.id, topic_id: topicId }).execute();
    }
    ids.set(s.email, row.id);
  }
  return ids;
}

/** A topic no article of the long issue carries (to make an empty edition). */
export async function insertUnusedTopic(db: Db, slug = 'gardening'): Promise<void> {
  await db.insertInto('topics').values({ slug, name: 'Gardening', description: '', position: 99 }).execute();
}

export async function deliveriesOf(db: Db, issueSlug: string) {
  return db
    .selectFrom('deliveries as d')
    .innerJoin('issues as i', 'i.id', 'd.issue_id')
    .innerJoin('subscribers as s', 's.id', 'd.subscriber_id')
    .select(['d.id', 's.email', 'd.status', 'd.edition_key', 'd.attempts', 'd.last_error', 'd.next_attempt_at'])
    .where('i.slug', '=', issueSlug)
    .orderBy('d.id')
    .execute();
}

/** Normalises text so titles survive HTML escaping and line wrapping in the text part. */
export function flat(text: string): string {
  return text
    .replace(/&amp;/g, '&')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/\s+/g, ' ');
}

/** Waits until the issue's send is `status` ("sent", "paused"…) and returns its status (counts, senders). */
export function sendReaches(
  services: Services,
  slug: string,
  status: IssueStatus,
  timeoutMs = 60_000,
): Promise<IssueSendStatus> {
  return eventually(`the send of ${slug} to be ${status}`, () => sendStatus(services, slug), {
    holds: (s) => s.status === status,
    timeoutMs,
  });
}
