import { z } from 'zod';
import { markdownNestingProblem } from '../../src/render/markdown.js';
import type { Article, Source, Topic } from '../../src/content/types.js';
import { field, fieldList } from '../context.js';
import type { ArticleInput } from '../library-repository.js';

/** Everything as typed, so a failed save shows the form exactly as the editor left it. */
export interface ArticleFormValues {
  title: string;
  sectionTopicId: string;
  newSection: string;
  extraTopicIds: string[];
  tags: string;
  takeaway: string;
  sources: string;
  body: string;
  imageAlt: string;
}

/** The most text one article holds (bytes of UTF-8), the same 1 MiB as an imported content file. */
export const ARTICLE_TEXT_MAX_BYTES = 1024 * 1024;

export type ArticleFormErrors = Partial<Record<keyof ArticleFormValues | 'image', string>>;

export function emptyArticleForm(): ArticleFormValues {
  return {
    title: '',
    sectionTopicId: '',
    newSection: '',
    extraTopicIds: [],
    tags: '',
    takeaway: '',
    sources: '',
    body: '',
    imageAlt: '',
  };
}

export function formFromBody(body: unknown): ArticleFormValues {
  return {
    title: field(body, 'title'),
    sectionTopicId: field(body, 'sectionTopicId'),
    newSection: field(body, 'newSection'),
    extraTopicIds: fieldList(body, 'extraTopicIds'),
    tags: field(body, 'tags'),
    takeaway: field(body, 'takeaway'),
    sources: field(body, 'sources'),
    body: field(body, 'body'),
    imageAlt: field(body, 'imageAlt'),
  };
}

export function formFromArticle(article: Article): ArticleFormValues {
  return {
    title: article.title,
    sectionTopicId: String(article.section.id),
    newSection: '',
    extraTopicIds: article.topics.slice(1).map((t) => String(t.id)),
    tags: article.tags.join(', '),
    takeaway: article.takeaway ?? '',
    sources: article.sources.map((s) => (s.label && s.label !== s.url ? `${s.url} ${s.label}` : s.url)).join('\n'),
    body: article.bodyMarkdown,
    imageAlt: '',
  };
}

const httpUrl = z.url({ protocol: /^https?$/ });

export function parseSources(text: string): { sources: Source[]; error?: string } {
  const sources: Source[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const [url = '', ...label] = line.split(/\s+/);
    if (!httpUrl.safeParse(url).success) {
      return {
        sources,
        error: `Line ${i + 1} must start with an http(s) address, then an optional label (got “${line.slice(0, 60)}”).`,
      };
    }
    sources.push({ url, label: label.join(' ') || url });
  }
  return { sources };
}

/** Every image in the Markdown, as import.ts reads them. */
export function imagesInMarkdown(markdown: string): { src: string; alt: string }[] {
  return [...markdown.matchAll(/!\[((?:\\.|[^\]\\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => ({
    alt: (m[1] ?? '').replace(/\\(.)/g, '$1').trim(),
    src: m[2] ?? '',
  }));
}

export function parseTags(text: string): string[] {
  const seen = new Set<string>();
  const tags: string[] = [];
  for (const t of text.split(',').map((s) => s.trim().replace(/\s+/g, ' '))) {
    if (t && !seen.has(t.toLowerCase())) {
      seen.add(t.toLowerCase());
      tags.push(t);
    }
  }
  return tags;
}

/**
 * Checks the form. The section is either an existing topic or a new name (created on save, the
 * caller's job); returns the input without the section id in that case.
 */
export function validateArticleForm(
  values: ArticleFormValues,
  topics: Topic[],
): { input: Omit<ArticleInput, 'sectionTopicId'> & { sectionTopicId: number | null }; errors: ArticleFormErrors } {
  const errors: ArticleFormErrors = {};
  const title = values.title.trim().replace(/\s+/g, ' ');
  if (title === '') errors.title = 'Give the article a title.';
  else if (title.length > 300) errors.title = 'The title is longer than 300 characters; shorten it.';

  let sectionTopicId: number | null = null;
  if (values.newSection.trim() !== '') {
    if (!/[a-z0-9]/i.test(values.newSection)) errors.newSection = 'A section name needs at least one letter or digit.';
  } else {
    const topic = topics.find((t) => String(t.id) === values.sectionTopicId);
    if (!topic) errors.sectionTopicId = 'Choose the section this article is printed under, or name a new one.';
    else sectionTopicId = topic.id;
  }
  const extraTopicIds = values.extraTopicIds.map(Number).filter((id) => topics.some((t) => t.id === id));

  const tags = parseTags(values.tags);
  if (tags.some((t) => t.length > 60))
    errors.tags = 'Each tag must be at most 60 characters (separate tags with commas).';

  const parsedSources = parseSources(values.sources);
  if (parsedSources.error) errors.sources = parsedSources.error;

  const bodyMarkdown = values.body.replace(/\r\n/g, '\n').trim();
  const images = imagesInMarkdown(bodyMarkdown);
  const bodyBytes = Buffer.byteLength(bodyMarkdown);
  if (bodyMarkdown === '') errors.body = 'Write the article text (Markdown).';
  else if (bodyBytes > ARTICLE_TEXT_MAX_BYTES) {
    errors.body =
      `The text is ${(bodyBytes / 1024 / 1024).toFixed(1)} MB; an article holds at most 1 MB of text. ` +
      'Nothing was saved and your text is kept below: shorten it, or split it into two articles.';
  } else if (images.some((img) => img.alt === '')) {
    const missing = images.filter((img) => img.alt === '').map((img) => img.src);
    errors.body = `Every image needs alt text for readers who cannot see it: add it inside ![…] for ${missing.join(', ')}.`;
  } else {
    const deep = markdownNestingProblem(bodyMarkdown);
    if (deep) errors.body = `The text cannot be saved: ${deep}.`;
  }
  const takeaway = values.takeaway.trim();
  if (takeaway.length > 2000)
    errors.takeaway = 'The takeaway is longer than 2,000 characters; keep it to a short highlight.';
  const deepTakeaway = errors.takeaway ? null : markdownNestingProblem(takeaway, { inline: true });
  if (deepTakeaway) errors.takeaway = `The takeaway cannot be saved: ${deepTakeaway}.`;

  return {
    input: {
      title,
      sectionTopicId,
      extraTopicIds,
      tags,
      takeaway: takeaway === '' ? null : takeaway,
      sources: parsedSources.sources,
      bodyMarkdown,
    },
    errors,
  };
}
