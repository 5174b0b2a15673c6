import type { Db } from '../../src/db/database.js';
import { loadIssueDocument } from '../../src/content/content-repository.js';
import { FULL_EDITION_KEY } from '../../src/content/editions.js';
import { issueLinkCounts, sentPerEdition } from '../../src/tracking/tracking-repository.js';

// Clicks of one issue (README: Engagement analytics): per article and per topic, edition by
// edition, and which topics' readers click most. Counts only, from tracked_links: readers' clicks
// (`clicks`) and, apart, those of machines (scanners, prefetchers, image proxies). No person.

export interface EditionClicks {
  /** `*` = the whole issue, else the chosen topics' slugs joined by commas. */
  key: string;
  topics: string[];
  sent: number;
  clicks: number;
  machineClicks: number;
  opens: number;
  machineOpens: number;
}

export interface ArticleClicks {
  id: number;
  title: string;
  topics: string[];
  clicks: number;
  /** Clicks per edition key (only editions with clicks). */
  byEdition: Record<string, number>;
}

export interface TopicClicks {
  slug: string;
  name: string;
  /** Clicks on the articles that carry the topic. */
  articleClicks: number;
  /** Messages sent whose edition holds the topic: the topic's readers in this issue. */
  readers: number;
  /** All clicks of those readers (on any link of their edition). */
  readerClicks: number;
  /** readerClicks per 100 readers: which topics' readers click most. */
  clicksPer100Readers: number;
}

export interface IssueClickReport {
  issue: { slug: string; title: string; sentAt: string | null };
  editions: EditionClicks[];
  articles: ArticleClicks[];
  topics: TopicClicks[];
  /** Clicks on links outside any article (the editor's note, the footer). */
  otherClicks: number;
}

const per100 = (clicks: number, readers: number) => (readers === 0 ? 0 : Math.round((clicks * 1000) / readers) / 10);

export async function issueClickReport(db: Db, slug: string): Promise<IssueClickReport> {
  const doc = await loadIssueDocument(db, slug);
  const [rows, sent] = await Promise.all([issueLinkCounts(db, doc.id), sentPerEdition(db, doc.id)]);
  const keys = [...new Set([...sent.keys(), ...rows.map((r) => r.editionKey)])].sort();
  const editions = keys.map((key): EditionClicks => {
    const mine = rows.filter((r) => r.editionKey === key);
    const sum = (kind: 'link' | 'open', field: 'clicks' | 'machineClicks') =>
      mine.filter((r) => r.kind === kind).reduce((n, r) => n + r[field], 0);
    return {
      key,
      topics: key === FULL_EDITION_KEY ? [] : key.split(','),
      sent: sent.get(key) ?? 0,
      clicks: sum('link', 'clicks'),
      machineClicks: sum('link', 'machineClicks'),
      opens: sum('open', 'clicks'),
      machineOpens: sum('open', 'machineClicks'),
    };
  });
  const links = rows.filter((r) => r.kind === 'link');
  const articles = doc.articles.map((a): ArticleClicks => {
    const byEdition: Record<string, number> = {};
    for (const r of links) {
      if (r.articleId === a.id && r.clicks > 0) byEdition[r.editionKey] = (byEdition[r.editionKey] ?? 0) + r.clicks;
    }
    return {
      id: a.id,
      title: a.title,
      topics: a.topics.map((t) => t.slug),
      clicks: Object.values(byEdition).reduce((n, c) => n + c, 0),
      byEdition,
    };
  });
  const topicList = [...new Map(doc.articles.flatMap((a) => a.topics).map((t) => [t.slug, t])).values()];
  const holds = (edition: EditionClicks, slug: string) =>
    edition.key === FULL_EDITION_KEY || edition.topics.includes(slug);
  const topics = topicList.map((t): TopicClicks => {
    const theirs = editions.filter((e) => holds(e, t.slug));
    const readers = theirs.reduce((n, e) => n + e.sent, 0);
    const readerClicks = theirs.reduce((n, e) => n + e.clicks, 0);
    return {
      slug: t.slug,
      name: t.name,
      articleClicks: articles.filter((a) => a.topics.includes(t.slug)).reduce((n, a) => n + a.clicks, 0),
      readers,
      readerClicks,
      clicksPer100Readers: per100(readerClicks, readers),
    };
  });
  const articleIds = new Set(doc.articles.map((a) => a.id));
  return {
    issue: { slug: doc.slug, title: doc.title, sentAt: doc.sentAt },
    editions,
    articles,
    topics,
    otherClicks: links
      .filter((r) => r.articleId === null || !articleIds.has(r.articleId))
      .reduce((n, r) => n + r.clicks, 0),
  };
}
