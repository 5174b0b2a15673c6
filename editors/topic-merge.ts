import type { Db } from '../src/db/database.js';
import { touchAllDrafts } from '../src/content/content-repository.js';
import type { Topic } from '../src/content/types.js';
import { moveTopicChoices, type ConsentContext } from '../subscribers/subscriber-repository.js';
import { deleteUnusedTopic, issuesInFlight, mergeTopicContent } from './settings-repository.js';

// Merging topic A into topic B (Settings → Topics, `newsletter topics merge a b`): every subscriber
// who chose A keeps their choice, now as B (a consent-log entry each says so), A's articles and
// issue sections become B's, and A goes. Sent issues keep the topics they were sent with (their
// snapshot), and links to A in their mail still find the articles (see resolveEditionTopics).

export class TopicChangeError extends Error {}

export interface MergeReport {
  subscribers: number;
  articles: number;
}

export async function mergeTopics(db: Db, from: Topic, into: Topic, context: ConsentContext): Promise<MergeReport> {
  if (from.id === into.id) throw new TopicChangeError('Choose another topic to merge into.');
  const sending = await issuesInFlight(db);
  if (sending.length) {
    throw new TopicChangeError(
      `Issue ${sending.join(', ')} is being sent with the current topics; merge after it finishes.`,
    );
  }
  return db.transaction().execute(async (trx) => {
    const subscribers = await moveTopicChoices(trx, from, into, context);
    const articles = await mergeTopicContent(trx, from.id, into.id);
    if ((await deleteUnusedTopic(trx, from.id)) !== 'done') {
      throw new Error(`topic ${from.slug} is still in use after merging it into ${into.slug}`);
    }
    await touchAllDrafts(trx);
    return { subscribers, articles };
  });
}
