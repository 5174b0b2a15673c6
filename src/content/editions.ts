import type { Article, IssueContent, IssueDocument, Topic } from './types.js';

export interface EditionArticle {
  /** 1..n within the edition. */
  number: number;
  /** Stable across editions, so links into the web version survive topic changes. */
  anchor: string;
  article: Article;
}

export interface EditionSection {
  topic: Topic;
  anchor: string;
  articles: EditionArticle[];
}

export interface Edition {
  /** `*` for the whole issue, otherwise the sorted topic slugs joined by `,`. */
  key: string;
  /** null: the whole issue (a subscriber with no chosen topic receives every topic). */
  topicSlugs: string[] | null;
  issue: IssueDocument;
  sections: EditionSection[];
  articles: EditionArticle[];
  takeaways: EditionArticle[];
  empty: boolean;
}

export const FULL_EDITION_KEY = '*';

export class UnknownTopicError extends Error {
  constructor(
    readonly unknown: string[],
    readonly known: string[],
  ) {
    super(`Unknown topic ${unknown.map((t) => `"${t}"`).join(', ')}. Topics: ${known.join(', ')}`);
  }
}

/** Normalises a topic selection: empty or absent means the whole issue. */
export function editionKey(topicSlugs: readonly string[] | null | undefined): string {
  if (!topicSlugs || topicSlugs.length === 0) return FULL_EDITION_KEY;
  return [...new Set(topicSlugs)].sort().join(',');
}

export function topicSlugsFromKey(key: string): string[] | null {
  return key === FULL_EDITION_KEY ? null : key.split(',');
}

export function articleAnchor(article: Pick<Article, 'slug'>): string {
  return `article-${article.slug}`;
}

/**
 * README, "Editions": the edition for topics T holds the issue's articles carrying at least one topic
 * in T, in issue order under their sections, numbered 1..n; Index and Takeaways list only those.
 */
export function buildEdition(issue: IssueDocument, topicSlugs: readonly string[] | null | undefined): Edition {
  const key = editionKey(topicSlugs);
  const wanted = key === FULL_EDITION_KEY ? null : new Set(key.split(','));
  const held = issue.articles.filter((a) => wanted === null || a.topics.some((t) => wanted.has(t.slug)));

  const bySection = new Map<number, Article[]>();
  for (const article of held) {
    const list = bySection.get(article.section.id) ?? [];
    list.push(article);
    bySection.set(article.section.id, list);
  }
  // Sections print in the issue's order; an article whose section is not listed goes after them.
  const order = [...issue.sections];
  for (const article of held) {
    if (!order.some((s) => s.id === article.section.id)) order.push(article.section);
  }

  let number = 0;
  const sections: EditionSection[] = [];
  for (const topic of order) {
    const articles = bySection.get(topic.id);
    if (!articles) continue;
    sections.push({
      topic,
      anchor: `section-${topic.slug}`,
      articles: articles.map((article) => ({ number: ++number, anchor: articleAnchor(article), article })),
    });
  }
  const all = sections.flatMap((s) => s.articles);
  return {
    key,
    topicSlugs: key === FULL_EDITION_KEY ? null : key.split(','),
    issue,
    sections,
    articles: all,
    takeaways: all.filter((a) => a.article.takeaway !== null && a.article.takeaway !== ''),
    empty: all.length === 0,
  };
}

/** Checks topic slugs against the known topics; throws an error naming the valid ones. */
export function assertKnownTopics(topicSlugs: readonly string[], known: readonly Pick<Topic, 'slug'>[]): void {
  const knownSlugs = known.map((t) => t.slug);
  const unknown = topicSlugs.filter((s) => !knownSlugs.includes(s));
  if (unknown.length > 0) throw new UnknownTopicError(unknown, knownSlugs);
}

/** The topics an issue's content knows: its sections and every topic its articles carry. */
export function topicsOf(issue: Pick<IssueContent, 'sections' | 'articles'>): Topic[] {
  const all = [...issue.sections, ...issue.articles.flatMap((a) => a.topics)];
  return all.filter((t, i) => all.findIndex((x) => x.id === t.id) === i);
}

/**
 * The topic slugs an edition of this issue is asked for, as the issue's content spells them. A sent
 * issue keeps the slugs its topics had when it was sent, so a topic renamed since is found under
 * either name (old links in mail keep working). Any other current topic is valid too (its edition
 * holds nothing); an unknown slug is an error naming the valid ones.
 */
export function resolveEditionTopics(
  issue: Pick<IssueContent, 'sections' | 'articles'>,
  topicSlugs: readonly string[],
  current: readonly Topic[],
): string[] {
  const known = topicsOf(issue);
  const resolved = topicSlugs.map((slug) => {
    if (known.some((t) => t.slug === slug)) return slug;
    const now = current.find((t) => t.slug === slug);
    return (now && known.find((t) => t.id === now.id)?.slug) ?? slug;
  });
  const valid = [...new Set([...current.map((t) => t.slug), ...known.map((t) => t.slug)])];
  assertKnownTopics(
    resolved,
    valid.map((slug) => ({ slug })),
  );
  return resolved;
}
