import { buildEdition, editionKey, topicsOf, topicSlugsFromKey } from '../../src/content/editions.js';
import type { IssueDocument } from '../../src/content/types.js';
import type { Db } from '../../src/db/database.js';
import { listActiveSubscribers } from '../../subscribers/subscriber-repository.js';

/** One distinct topic choice among active subscribers and what it gets from the issue. */
export interface AudienceEdition {
  key: string;
  topicSlugs: string[] | null;
  subscribers: number;
  articleCount: number;
  /** No article of the issue is on these topics: these subscribers are skipped, not mailed. */
  empty: boolean;
}

/** Who a send of the issue would reach if it started now. */
export interface Audience {
  /** Active subscribers (each gets one delivery record). */
  subscribers: number;
  /** Subscribers mailed: those whose edition holds at least one article. */
  receiving: number;
  /** Subscribers skipped because their edition is empty. */
  skipped: number;
  /** Distinct non-empty editions that would be built. */
  editions: number;
  rows: AudienceEdition[];
}

export async function issueAudience(db: Db, doc: IssueDocument): Promise<Audience> {
  const bySelection = new Map<string, number>();
  for (const s of await listActiveSubscribers(db)) {
    const key = editionKey(s.topicSlugs);
    bySelection.set(key, (bySelection.get(key) ?? 0) + 1);
  }
  const rows = [...bySelection.entries()].map(([key, subscribers]): AudienceEdition => {
    const topicSlugs = topicSlugsFromKey(key);
    const edition = buildEdition(doc, topicSlugs);
    return { key, topicSlugs, subscribers, articleCount: edition.articles.length, empty: edition.empty };
  });
  const skipped = rows.filter((r) => r.empty).reduce((n, r) => n + r.subscribers, 0);
  const subscribers = rows.reduce((n, r) => n + r.subscribers, 0);
  // As planning keys deliveries: the chosen topics the issue carries, so {a, x} and {a} share one edition.
  const inIssue = new Set(topicsOf(doc).map((t) => t.slug));
  const editions = new Set(
    rows.filter((r) => !r.empty).map((r) => editionKey(r.topicSlugs?.filter((t) => inIssue.has(t)) ?? null)),
  ).size;
  return { subscribers, receiving: subscribers - skipped, skipped, editions, rows };
}
