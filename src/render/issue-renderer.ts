import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { LRUCache } from 'lru-cache';
import { convert, type DomNode, type FormatCallback } from 'html-to-text';
import { textTable, wrapText } from './text-layout.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/database.js';
import { getIssueRow, listTopics, loadIssueDocument } from '../content/content-repository.js';
import {
  buildEdition,
  editionKey,
  resolveEditionTopics,
  type Edition,
  type EditionArticle,
} from '../content/editions.js';
import type { IssueDocument } from '../content/types.js';
import type { Views } from './views.js';
import type { MjmlCompiler } from './mjml-compiler.js';
import {
  inlineMarkdownToSafeHtml,
  markdownToSafeHtml,
  styleForEmail,
  type ImageSizeOf,
  type InlineStyles,
} from './markdown.js';
import { imageSize } from 'image-size';
import {
  FIELD_TOKEN_PREFIX,
  FillTemplate,
  largestFields,
  TOKEN_FIELDS,
  type PersonalFields,
} from './personal-fields.js';
import { quotedPrintableLength } from '../mail/quoted-printable.js';
import { chooseTeasers, type EditionFit, type TeaserCandidate } from './edition-fit.js';
import { compileFile, createEngine } from './template-engine.js';
import { compactHtml } from './compact-html.js';
import { MAX_TRACKING_TOKEN_LENGTH } from '../tracking/click-token.js';
import { trackingPixelHtml } from '../tracking/link-rewriter.js';
import { frameSourceHash, ownCopy, readCompiledFrame, saveCompiledFrame, shareable } from './compiled-frames.js';

export type { PersonalFields } from './personal-fields.js';
export type { EditionFit } from './edition-fit.js';

export interface CompiledEdition {
  issueSlug: string;
  key: string;
  topicSlugs: string[] | null;
  empty: boolean;
  articleCount: number;
  subject: string;
  /** The public web version of this edition. */
  webUrl: string;
  /** Its size against EMAIL_HTML_BUDGET and the articles it sends as teasers. */
  fit: EditionFit;
  /** The cheap per-subscriber step: fills name and links (escaped for HTML) into compiled output. */
  fill(fields: PersonalFields): { html: string; text: string };
  /**
   * The article (id) a link belongs to, for per-article click counts: the one whose content holds
   * `offset` of `fill(TOKEN_FIELDS).html`, or the one a link to `url` opens on the web (index,
   * takeaways, teasers); null for the rest (editor's note, footer).
   */
  articleOf(offset: number, url: string): number | null;
}

export class TemplateError extends Error {}

interface ArticleOutputs {
  webHtml: string;
  emailHtml: string;
  bodyText: string;
  takeawayHtml: string;
  takeawayText: string;
  /** What a teaser shows: the takeaway, or the first paragraph (cut at about 300 characters). */
  summaryHtml: string;
  summaryText: string;
  /** Roughly what the full article adds to the email over its teaser, in bytes as sent. */
  teaserSaving: number;
}

/** Everything rendered once per version of an issue. */
interface IssueVersion {
  doc: IssueDocument;
  articles: Map<number, ArticleOutputs>;
  /** Editor's note and about text, as email HTML and as text. */
  notes: { editorNoteHtml: string; aboutHtml: string; editorNoteText: string; aboutText: string };
  frame: Promise<string[]> | undefined;
  editions: LRUCache<string, Promise<CompiledEdition>>;
  /** Quoted-printable lengths of the email's lines, shared by the editions' size measurements. */
  lineLengths: Map<string, number>;
}

/** The chosen topics an edition holds articles on, in the issue's order (none for the whole issue). */
function editionTopics(doc: IssueDocument, edition: Edition) {
  if (!edition.topicSlugs) return [];
  const all = doc.sections.concat(doc.articles.flatMap((a) => a.topics));
  return all.filter((t, i) => edition.topicSlugs?.includes(t.slug) && all.findIndex((x) => x.id === t.id) === i);
}

/**
 * Compiled editions kept per issue version. The sender works through deliveries grouped by edition
 * and holds the few it is using itself, so this cache only spares previews a rebuild; each edition
 * is a few hundred KB, and a re-made one costs only its slots (about a millisecond), never an MJML
 * compile.
 */
const MAX_CACHED_EDITIONS = 8;
/**
 * Issue versions kept (their rendered articles and editions). A send and the pages being read need
 * one or two at a time; reloading an evicted issue renders its articles again (milliseconds).
 */
const MAX_CACHED_VERSIONS = 8;
/**
 * Web pages kept, across all issues, in bytes: the public archive serves every issue in every topic
 * combination, and a count cap would let 30 issues × 48 combinations of 115 KB take 160 MB.
 */
export const PAGE_CACHE_BYTES = 16 * 1024 * 1024;

/** What the renderer holds (for tests and `/healthz`-style diagnostics). */
export interface RendererCacheSizes {
  versions: number;
  pages: number;
  pageBytes: number;
}

// The Index and Takeaways are drawn inside email-sections: alone, an empty one would leave an empty
// <mj-text>, which MJML writes as `<div/>`.
const SLOTS = ['email-preheader', 'email-edition', 'email-sections'] as const;

/** An edition of one or two articles needs no Index. */
const INDEX_MIN_ARTICLES = 3;
/** How long the made-up preheader may grow before the rest is summed up as "and N more". */
const PREHEADER_MAX = 140;
/**
 * Invisible characters after the preheader: inbox previews show the first 100 to 200 characters of
 * a message, and without these they would go on into the body.
 */
const PREHEADER_FILLER = '&#847;&zwnj;&nbsp;'.repeat(60);
/**
 * Bytes kept free per link in the HTML for per-link tracking (issue 15 rewrites each link to
 * BASE_URL/r/<token>): an edition fits when its size plus this allowance per link is within budget.
 */
export const LINK_TRACKING_ALLOWANCE = 48;
/**
 * The send pipeline encodes an edition in pieces cut at the personal fields and joins them with
 * soft line breaks (scheduler/encoded-edition.ts): at most a soft break and a shorter line more per
 * field than encoding the message whole.
 */
const PIECE_JOIN_ALLOWANCE = 8;
/** A section whose name starts like this is the issue's annex: its articles become teasers first. */
const ANNEX_SECTION = /^(annex|appendi)/i;
/** Teaser summaries made from a first paragraph stop near this many characters. */
const SUMMARY_MAX = 300;

/**
 * What click tracking may add to an edition (src/tracking/link-rewriter.ts): LINK_TRACKING_ALLOWANCE
 * per link, more for a link whose tracked form outgrows its own href by more than that (a short URL
 * under a long BASE_URL; 4 bytes for a soft line break it may cause), and the open pixel.
 */
function trackingAllowance(html: string, baseUrl: string): number {
  const tracked = baseUrl.length + '/r/'.length + MAX_TRACKING_TOKEN_LENGTH;
  let bytes = trackingPixelHtml(baseUrl, 'T'.repeat(MAX_TRACKING_TOKEN_LENGTH)).length;
  for (const match of html.matchAll(/<a\s[^>]*?href="([^"]*)"/g)) {
    bytes += LINK_TRACKING_ALLOWANCE + Math.max(0, tracked + 4 - (match[1] as string).length - LINK_TRACKING_ALLOWANCE);
  }
  return bytes;
}

/** The `articleOf` of a compiled edition: article regions start at each `<h3>N.` heading of the sections slot. */
function articleLocator(
  html: string,
  sections: { start: number; end: number },
  edition: Edition,
  webUrl: string,
): (offset: number, url: string) => number | null {
  const byNumber = new Map(edition.articles.map((a) => [a.number, a.article.id]));
  const byWebUrl = new Map(edition.articles.map((a) => [`${webUrl}#${a.anchor}`, a.article.id]));
  const starts: { at: number; id: number }[] = [];
  const heading = /<h3[^>]*>\s*(\d+)\./g;
  heading.lastIndex = sections.start;
  for (let m = heading.exec(html); m !== null && m.index < sections.end; m = heading.exec(html)) {
    const id = byNumber.get(Number(m[1]));
    if (id !== undefined) starts.push({ at: m.index, id });
  }
  return (offset, url) => {
    const linked = byWebUrl.get(url);
    if (linked !== undefined) return linked;
    if (offset < sections.start || offset >= sections.end) return null;
    let found: number | null = null;
    for (const start of starts) if (start.at <= offset) found = start.id;
    return found;
  };
}

const slotToken = (slot: string) => `NLSLOT${slot.replace(/-/g, '')}NLSLOT`;

const textOf = (node: DomNode): string =>
  node.type === 'text' ? (node.data ?? '') : (node.children ?? []).map(textOf).join('');
const childTags = (node: DomNode, names: string[]): DomNode[] =>
  (node.children ?? []).flatMap((c) =>
    names.includes(c.name ?? '') ? [c] : c.name === 'table' ? [] : childTags(c, names),
  );

/** A Markdown table as an aligned text table (text-layout.ts), not a run of words. */
const tableAsText: FormatCallback = (elem, _walk, builder) => {
  const rows = childTags(elem, ['tr']).map((tr) => childTags(tr, ['th', 'td']));
  const header = rows[0]?.some((c) => c.name === 'th') ?? false;
  builder.openBlock({ leadingLineBreaks: 2 });
  builder.addLiteral(
    textTable(
      rows.map((r) => r.map(textOf)),
      { header },
    ),
  );
  builder.closeBlock({ trailingLineBreaks: 2 });
};

/** Article HTML as text, unwrapped: the whole text part is wrapped at the end (text-layout.ts). */
const HTML_TO_TEXT_OPTIONS = {
  wordwrap: false as const,
  formatters: { tableAsText },
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true, linkBrackets: ['<', '>'] as [string, string] } },
    { selector: 'h4', options: { uppercase: false, leadingLineBreaks: 2, trailingLineBreaks: 1 } },
    { selector: 'h5', options: { uppercase: false } },
    { selector: 'img', format: 'skip' },
    { selector: 'table', format: 'tableAsText' },
  ],
};

export interface IssueRendererDeps {
  db: Db;
  config: Config;
  views: Views;
  mjml: MjmlCompiler;
}

/**
 * Renders issues and editions. Render once, personalise cheaply: the email's MJML frame is compiled
 * once per issue version, each edition's content is rendered once into that frame and cached, and
 * per-subscriber fields are filled into the result by string joins.
 */
export class IssueRenderer {
  /** How many times the MJML compiler ran (for tests and benchmarks). */
  compileCount = 0;
  /** Frames of frozen issues read from the database instead of compiled (another process compiled them). */
  framesRead = 0;
  private readonly versions = new LRUCache<string, IssueVersion>({ max: MAX_CACHED_VERSIONS });
  /** Web pages by issue, its version (updated_at) and requested topics; capped in bytes across issues. */
  private readonly pages: LRUCache<string, string>;
  private readonly loading = new Map<string, Promise<IssueVersion>>();
  /** Bumped by `invalidate`, so a load that began before it never caches what it read. */
  private generation = 0;
  private readonly email: typeof Handlebars;
  private readonly emailTemplate: Handlebars.TemplateDelegate;
  private readonly textTemplate: Handlebars.TemplateDelegate;
  private readonly slotTemplates: Handlebars.TemplateDelegate[];
  private readonly styles: InlineStyles;

  constructor(
    private readonly deps: IssueRendererDeps,
    options: { pageCacheBytes?: number } = {},
  ) {
    this.pages = new LRUCache<string, string>({
      maxSize: options.pageCacheBytes ?? PAGE_CACHE_BYTES,
      // A JavaScript string takes up to two bytes a character; the upper bound keeps the cap honest.
      sizeCalculation: (html) => Math.max(1, html.length * 2),
    });
    const dir = deps.config.templatesDir;
    this.email = createEngine([path.join(dir, 'email', 'partials')]);
    this.emailTemplate = compileFile(this.email, path.join(dir, 'email', 'issue.mjml.hbs'));
    this.slotTemplates = SLOTS.map((slot) => {
      const source = this.email.partials[slot] as string | undefined;
      if (typeof source !== 'string') throw new TemplateError(`templates/email/partials/${slot}.hbs is missing`);
      return this.email.compile(source);
    });
    this.textTemplate = compileFile(createEngine([]), path.join(dir, 'text', 'issue.txt.hbs'), { text: true });
    this.styles = JSON.parse(readFileSync(path.join(dir, 'email', 'styles.json'), 'utf8')) as InlineStyles;
  }

  /** Drops cached output for one issue (after an edit), or for all (after a publication change). */
  invalidate(issueSlug?: string): void {
    this.generation++;
    this.loading.clear();
    if (issueSlug === undefined) {
      this.versions.clear();
      this.pages.clear();
    } else {
      this.versions.delete(issueSlug);
      for (const key of [...this.pages.keys()]) if (key.startsWith(`${issueSlug}\0`)) this.pages.delete(key);
    }
  }

  cacheSizes(): RendererCacheSizes {
    return { versions: this.versions.size, pages: this.pages.size, pageBytes: this.pages.calculatedSize };
  }

  subject(doc: Pick<IssueDocument, 'title' | 'edition' | 'period' | 'publication'>): string {
    const name = doc.publication.name;
    const issueName = [doc.title !== name ? doc.title : '', doc.edition].filter((s) => s !== '').join(', ');
    return [name, issueName, doc.period].filter((s) => s !== '').join(' · ');
  }

  webUrl(issueSlug: string, topicSlugs: readonly string[] | null): string {
    const key = editionKey(topicSlugs);
    const base = `${this.deps.config.baseUrl}/issues/${encodeURIComponent(issueSlug)}`;
    return key === '*' ? base : `${base}?topics=${key.split(',').map(encodeURIComponent).join(',')}`;
  }

  /** Stand-in links for previews and `newsletter render`. */
  previewFields(issueSlug: string, topicSlugs: readonly string[] | null): PersonalFields {
    const base = this.deps.config.baseUrl;
    return {
      name: 'Reader',
      email: 'reader@example.org',
      webUrl: this.webUrl(issueSlug, topicSlugs),
      manageUrl: `${base}/preferences?token=preview`,
      unsubscribeUrl: `${base}/unsubscribe?token=preview`,
    };
  }

  async document(issueSlug: string): Promise<IssueDocument> {
    return (await this.version(issueSlug)).doc;
  }

  async edition(issueSlug: string, topicSlugs: readonly string[] | null): Promise<CompiledEdition> {
    const version = await this.version(issueSlug);
    const key = await this.editionKeyOf(version, topicSlugs);
    let compiled = version.editions.get(key);
    if (!compiled) {
      compiled = this.compileEdition(version, key);
      version.editions.set(key, compiled);
      compiled.catch(() => version.editions.delete(key));
    }
    return compiled;
  }

  /** The edition's full MJML (what a designer would compile by hand), with the given fields. */
  async renderMjml(issueSlug: string, topicSlugs: readonly string[] | null, fields?: PersonalFields): Promise<string> {
    const version = await this.version(issueSlug);
    const edition = buildEdition(version.doc, topicSlugs);
    const teaserNumbers = new Set((await this.edition(issueSlug, topicSlugs)).fit.teasers.map((t) => t.number));
    const teasers = new Set(edition.articles.filter((a) => teaserNumbers.has(a.number)).map((a) => a.article.id));
    const data = this.emailData(version, edition, fields ?? this.previewFields(issueSlug, topicSlugs), teasers);
    return this.emailTemplate(data);
  }

  /** Compiles MJML with strict validation: a template mistake fails loudly instead of shipping. */
  async compileMjml(mjml: string): Promise<string> {
    this.compileCount++;
    const result = await this.deps.mjml.compile(mjml);
    if (result.errors.length > 0) throw new TemplateError(`MJML template is invalid: ${result.errors.join('; ')}`);
    return compactHtml(result.html);
  }

  /** The web version of the issue or an edition, cached until the issue changes. */
  async renderWeb(issueSlug: string, topicSlugs: readonly string[] | null): Promise<string> {
    const version = await this.version(issueSlug);
    const requested = editionKey(topicSlugs);
    const pageKey = `${issueSlug}\0${version.doc.updatedAt}\0${requested}`;
    const cached = this.pages.get(pageKey);
    if (cached !== undefined) return cached;
    const key = await this.editionKeyOf(version, topicSlugs);
    const edition = buildEdition(version.doc, key === '*' ? null : key.split(','));
    const doc = version.doc;
    const html = this.deps.views.render('issue', {
      title: `${doc.edition ? doc.edition + ' · ' : ''}${doc.period}`,
      publication: doc.publication,
      issue: doc,
      edition: this.viewModel(version, edition),
      isEdition: key !== '*',
      editionTopics: editionTopics(doc, edition),
      fullUrl: `/issues/${encodeURIComponent(doc.slug)}`,
      // The note follows the page's h1, the about text its h2 "About": their headings come next.
      editorNoteHtml: markdownToSafeHtml(doc.editorNoteMarkdown, 'h2'),
      aboutHtml: markdownToSafeHtml(doc.publication.aboutMarkdown, 'h3'),
      glossary: doc.glossary,
      corrections: doc.corrections.map((c) => ({ note: c.note, date: this.dateText(c.correctedAt) })),
      subscribeUrl: `/subscribe${key !== '*' ? `?topics=${encodeURIComponent(key)}` : ''}`,
    });
    this.pages.set(pageKey, html);
    return html;
  }

  /** The edition key for requested topics, in the issue's own spelling of them (see resolveEditionTopics). */
  private async editionKeyOf(version: IssueVersion, topicSlugs: readonly string[] | null): Promise<string> {
    const key = editionKey(topicSlugs);
    if (key === '*') return key;
    return editionKey(resolveEditionTopics(version.doc, key.split(','), await listTopics(this.deps.db)));
  }

  /** "3 December 2026", in the service's zone. */
  private dateText(iso: string): string {
    return new Intl.DateTimeFormat('en-GB', {
      day: 'numeric',
      month: 'long',
      year: 'numeric',
      timeZone: this.deps.config.scheduleTz,
    }).format(new Date(iso));
  }

  private async version(issueSlug: string): Promise<IssueVersion> {
    const row = await getIssueRow(this.deps.db, issueSlug);
    const cached = this.versions.get(issueSlug);
    if (cached && row && cached.doc.updatedAt === row.updated_at) return cached;
    // Requests arriving together after an edit share one load instead of each rendering every article.
    const loadKey = `${issueSlug}@${row?.updated_at ?? ''}`;
    let loading = this.loading.get(loadKey);
    if (!loading) {
      const started: Promise<IssueVersion> = this.loadVersion(issueSlug).finally(() => {
        if (this.loading.get(loadKey) === started) this.loading.delete(loadKey);
      });
      loading = started;
      this.loading.set(loadKey, loading);
    }
    return loading;
  }

  /** The size of an image of the media library (`/media/<file>` in DATA_DIR/media), read from its bytes. */
  private readonly mediaImageSize: ImageSizeOf = (src) => {
    const match = /^\/media\/([\w.-]+)$/.exec(src);
    if (!match) return undefined;
    const file = path.join(this.deps.config.mediaDir, match[1] as string);
    if (!existsSync(file)) return undefined;
    try {
      const { width, height } = imageSize(readFileSync(file));
      return width && height ? { width, height } : undefined;
    } catch {
      return undefined;
    }
  };

  /** The teaser's summary: the takeaway, else the first paragraph, as plain text cut at a word. */
  private summary(takeawayHtml: string, bodyHtml: string): string {
    if (takeawayHtml !== '') return `<p>${takeawayHtml}</p>`;
    const first = /<p>([\s\S]*?)<\/p>/.exec(bodyHtml)?.[1] ?? '';
    let words = convert(first, {
      wordwrap: false,
      selectors: [{ selector: 'a', options: { ignoreHref: true } }],
    }).trim();
    if (words.length > SUMMARY_MAX)
      words = words.slice(0, words.lastIndexOf(' ', SUMMARY_MAX)).replace(/[\s,;:.]+$/, '') + '…';
    return `<p>${Handlebars.escapeExpression(words)}</p>`;
  }

  private async loadVersion(issueSlug: string): Promise<IssueVersion> {
    const generation = this.generation;
    const doc = await loadIssueDocument(this.deps.db, issueSlug);
    const baseUrl = this.deps.config.baseUrl;
    // In the email the note follows the masthead's h1, and the about text the last article's h3.
    const note = markdownToSafeHtml(doc.editorNoteMarkdown, 'h2');
    const about = markdownToSafeHtml(doc.publication.aboutMarkdown);
    const version: IssueVersion = {
      doc,
      articles: this.renderArticles(doc),
      notes: {
        editorNoteHtml: styleForEmail(note, this.styles, baseUrl),
        aboutHtml: styleForEmail(about, this.styles, baseUrl),
        editorNoteText: convert(note, HTML_TO_TEXT_OPTIONS),
        aboutText: convert(about, HTML_TO_TEXT_OPTIONS),
      },
      frame: undefined,
      editions: new LRUCache({ max: MAX_CACHED_EDITIONS }),
      lineLengths: new Map(),
    };
    if (generation === this.generation) this.versions.set(issueSlug, version);
    return version;
  }

  private renderArticles(doc: IssueDocument): Map<number, ArticleOutputs> {
    const out = new Map<number, ArticleOutputs>();
    const baseUrl = this.deps.config.baseUrl;
    for (const article of doc.articles) {
      const webHtml = markdownToSafeHtml(article.bodyMarkdown);
      const takeawayHtml = article.takeaway ? inlineMarkdownToSafeHtml(article.takeaway) : '';
      const emailHtml = styleForEmail(webHtml, this.styles, baseUrl, this.mediaImageSize);
      const emailTakeaway = styleForEmail(takeawayHtml, this.styles, baseUrl);
      const summaryHtml = this.summary(emailTakeaway, emailHtml);
      const sources = article.sources.reduce((n, s) => n + s.url.length + s.label.length + 30, 0);
      out.set(article.id, {
        webHtml,
        emailHtml,
        bodyText: convert(webHtml, HTML_TO_TEXT_OPTIONS),
        takeawayHtml: emailTakeaway,
        takeawayText: convert(takeawayHtml, HTML_TO_TEXT_OPTIONS),
        summaryHtml,
        summaryText: convert(summaryHtml, HTML_TO_TEXT_OPTIONS),
        // The teaser's own link (about 100 bytes) is what it adds.
        teaserSaving: quotedPrintableLength(emailHtml) + sources - quotedPrintableLength(summaryHtml) - 100,
      });
    }
    return out;
  }

  private viewModel(version: IssueVersion, edition: Edition, email?: { webUrl: string; teasers: ReadonlySet<number> }) {
    const withOutputs = (a: EditionArticle) => ({
      ...a,
      ...(version.articles.get(a.article.id) as ArticleOutputs),
      teaser: email?.teasers.has(a.article.id) ?? false,
      webAnchorUrl: email ? `${email.webUrl}#${a.anchor}` : `#${a.anchor}`,
    });
    return {
      ...edition,
      sections: edition.sections.map((s) => ({ ...s, articles: s.articles.map(withOutputs) })),
      articles: edition.articles.map(withOutputs),
      takeaways: edition.takeaways.map(withOutputs),
    };
  }

  private emailData(version: IssueVersion, edition: Edition, fields: PersonalFields, teasers: ReadonlySet<number>) {
    const doc = version.doc;
    const webUrl = this.webUrl(doc.slug, edition.topicSlugs);
    return {
      issue: doc,
      publication: doc.publication,
      subject: this.subject(doc),
      ...version.notes,
      preheader: this.preheader(doc, edition),
      preheaderFiller: PREHEADER_FILLER,
      edition: {
        ...this.viewModel(version, edition, { webUrl, teasers }),
        isWhole: edition.topicSlugs === null,
        topicNames: editionTopics(doc, edition)
          .map((t) => t.name)
          .join(' · '),
        issueArticleCount: doc.articles.length,
        wholeUrl: this.webUrl(doc.slug, null),
        showIndex: edition.articles.length >= INDEX_MIN_ARTICLES,
      },
      fields,
    };
  }

  /** The editor's preheader, or the edition's first titles: what the inbox shows under the subject. */
  private preheader(doc: IssueDocument, edition: Edition): string {
    if (doc.preheader.trim() !== '') return doc.preheader.trim();
    let line = '';
    let used = 0;
    for (const { article } of edition.articles) {
      const next = line === '' ? article.title : `${line} · ${article.title}`;
      if (used > 0 && next.length > PREHEADER_MAX) break;
      line = next;
      used++;
    }
    const rest = edition.articles.length - used;
    return rest > 0 ? `${line} · and ${rest} more` : line;
  }

  /**
   * Compiles the issue's MJML once, with the edition slots left as tokens, and splits it there. The
   * frame of a frozen issue (a send started) is shared through the database: the first process to
   * need it compiles it, every other sender reads it and never loads MJML (compiled-frames.ts).
   */
  private frame(version: IssueVersion): Promise<string[]> {
    version.frame ??= (async () => {
      const data = this.emailData(version, buildEdition(version.doc, null), TOKEN_FIELDS, new Set());
      const partials = Object.fromEntries(SLOTS.map((s) => [s, slotToken(s)]));
      const mjml = this.emailTemplate(data, { partials });
      const html = version.doc.frozenAt === null ? await this.compileMjml(mjml) : await this.sharedFrame(version, mjml);
      const parts: string[] = [];
      let rest = html;
      for (const slot of SLOTS) {
        const pieces = rest.split(slotToken(slot));
        if (pieces.length !== 2) {
          throw new TemplateError(
            `templates/email/issue.mjml.hbs must use {{> ${slot}}} exactly once, alone inside an <mj-text> (email-preheader: an <mj-raw>)`,
          );
        }
        parts.push(pieces[0] as string);
        rest = pieces[1] as string;
      }
      parts.push(rest);
      return parts;
    })();
    version.frame.catch(() => {
      version.frame = undefined;
    });
    return version.frame;
  }

  private async sharedFrame(version: IssueVersion, mjml: string): Promise<string> {
    const source = shareable(mjml, FIELD_TOKEN_PREFIX);
    if (source === undefined) return this.compileMjml(mjml);
    const sourceHash = frameSourceHash(source);
    const stored = await readCompiledFrame(this.deps.db, sourceHash);
    if (stored !== undefined) {
      this.framesRead++;
      return ownCopy(stored, FIELD_TOKEN_PREFIX);
    }
    const html = await this.compileMjml(mjml);
    const shared = shareable(html, FIELD_TOKEN_PREFIX);
    if (shared !== undefined)
      await saveCompiledFrame(
        this.deps.db,
        { issueId: version.doc.id, sourceHash, html: shared },
        new Date().toISOString(),
      );
    return html;
  }

  private async compileEdition(version: IssueVersion, key: string): Promise<CompiledEdition> {
    const doc = version.doc;
    const topicSlugs = key === '*' ? null : key.split(',');
    const edition = buildEdition(doc, topicSlugs);
    const frame = await this.frame(version);
    const webUrl = this.webUrl(doc.slug, topicSlugs);
    // Each teaser set the fitting tries is rendered once; the chosen one is kept for the edition.
    const rendered = new Map<
      string,
      {
        data: ReturnType<IssueRenderer['emailData']>;
        template: FillTemplate;
        html: string;
        sections: { start: number; end: number };
      }
    >();
    const render = (teasers: ReadonlySet<number>) => {
      const setKey = [...teasers].join(',');
      let out = rendered.get(setKey);
      if (!out) {
        const data = this.emailData(version, edition, TOKEN_FIELDS, teasers);
        let html = frame[0] as string;
        let sections = { start: 0, end: 0 };
        this.slotTemplates.forEach((slot, i) => {
          // MJML trims the content of an <mj-text>; trim likewise so the result equals a direct compile.
          const filled = compactHtml(slot(data).trim());
          if (SLOTS[i] === 'email-sections') sections = { start: html.length, end: html.length + filled.length };
          html += filled + (frame[i + 1] as string);
        });
        out = { data, template: new FillTemplate(html, true), html, sections };
        rendered.set(setKey, out);
      }
      return out;
    };
    const largest = largestFields(this.deps.config.baseUrl, webUrl);
    const measure = (teasers: ReadonlySet<number>) => {
      const { template } = render(teasers);
      const html = template.fill(largest);
      return (
        quotedPrintableLength(html, version.lineLengths) +
        PIECE_JOIN_ALLOWANCE * template.fieldCount +
        trackingAllowance(html, this.deps.config.baseUrl)
      );
    };
    const candidates: TeaserCandidate[] = edition.articles.map((a) => ({
      id: a.article.id,
      number: a.number,
      title: a.article.title,
      annex: ANNEX_SECTION.test(a.article.section.name),
      saving: (version.articles.get(a.article.id) as ArticleOutputs).teaserSaving,
    }));
    const budget = this.deps.config.emailHtmlBudget;
    const chosen = edition.empty
      ? { teasers: new Set<number>(), bytes: 0 }
      : chooseTeasers(doc.emailFit, budget, candidates, measure);
    const fit: EditionFit = {
      mode: doc.emailFit,
      budget,
      bytes: chosen.bytes,
      teasers: edition.articles
        .filter((a) => chosen.teasers.has(a.article.id))
        .map((a) => ({ number: a.number, title: a.article.title })),
      overBudget: chosen.bytes > budget,
    };
    const { data, template: htmlTemplate, html: source, sections } = render(chosen.teasers);
    const articleOf = articleLocator(source, sections, edition, webUrl);
    // Template conditionals leave runs of blank lines; a reader needs at most two.
    const text = wrapText(
      this.textTemplate(data)
        .replace(/[ \t]+\n/g, '\n')
        .replace(/\n{4,}/g, '\n\n\n'),
    );
    const textTemplate = new FillTemplate(text, false);
    return {
      issueSlug: doc.slug,
      key,
      topicSlugs,
      empty: edition.empty,
      articleCount: edition.articles.length,
      subject: this.subject(doc),
      webUrl,
      fit,
      fill: (fields) => ({ html: htmlTemplate.fill(fields), text: textTemplate.fill(fields) }),
      articleOf,
    };
  }
}
