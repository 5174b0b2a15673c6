import { decodeHTML } from 'entities';
import type { CompiledEdition } from '../render/issue-renderer.js';
import { fieldToken, FillTemplate, TOKEN_FIELDS } from '../render/personal-fields.js';

// Click tracking rewrites an edition once, when it is sent (and for a test copy), never in the web
// archive or a preview: each link of the email goes through BASE_URL/r/<link token><tag field>,
// where the tag is the message's own part (src/tracking/click-token.ts) filled in per message like
// the reader's name. Links that are not rewritten: the reader's manage, unsubscribe and confirm
// links and the web version (they are personal fields or the edition's own web address), anchors
// inside the email, and anything that is not http(s) (mailto:, tel:).

export interface EditionLink {
  /** Its place among the edition's rewritten links, from 0 in document order. */
  position: number;
  /** The original address (HTML entities decoded). */
  url: string;
  articleId: number | null;
}

export interface FoundLinks {
  links: EditionLink[];
  /** The edition's HTML and text with personal fields as tokens, and where each link's href is. */
  html: string;
  text: string;
  hrefs: { start: number; end: number; position: number }[];
}

const HREF = /<a\s[^>]*?href="([^"]*)"/g;
const FIELD_MARK = fieldToken('name').slice(0, fieldToken('name').indexOf('x'));

/** The links of an edition tracking would rewrite, with the article each belongs to. */
export function findLinks(edition: CompiledEdition): FoundLinks {
  const { html, text } = edition.fill(TOKEN_FIELDS);
  const webVersions = new Set([edition.webUrl, edition.webUrl.replace(/\?.*$/, '')]);
  const links: EditionLink[] = [];
  const hrefs: FoundLinks['hrefs'] = [];
  for (const match of html.matchAll(HREF)) {
    const raw = match[1] as string;
    if (raw.includes(FIELD_MARK)) continue;
    const url = decodeHTML(raw);
    if (!/^https?:\/\//i.test(url) || webVersions.has(url)) continue;
    const start = (match.index ?? 0) + match[0].length - raw.length - 1;
    const position = links.length;
    links.push({ position, url, articleId: edition.articleOf(match.index ?? 0, url) });
    hrefs.push({ start, end: start + raw.length, position });
  }
  return { links, html, text, hrefs };
}

/** The 1×1 image an open is counted by (only when opens are counted). */
export function trackingPixelHtml(baseUrl: string, token: string): string {
  return `<img src="${baseUrl}/o/${token}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0">`;
}

export interface RewriteOptions {
  baseUrl: string;
  /** The signed link token of each link (by position). */
  linkTokens: readonly string[];
  /** The open pixel's link token, when opens are counted. */
  openToken: string | null;
}

/**
 * The edition with its links rewritten: the same CompiledEdition, whose fill writes the message's
 * `trackingTag` into each tracked link. The text part's links to the same addresses are rewritten
 * to the same tokens.
 */
export function rewriteEdition(edition: CompiledEdition, found: FoundLinks, options: RewriteOptions): CompiledEdition {
  const tag = fieldToken('trackingTag');
  const tracked = (position: number) => `${options.baseUrl}/r/${options.linkTokens[position] as string}${tag}`;
  let html = '';
  let last = 0;
  for (const href of found.hrefs) {
    html += found.html.slice(last, href.start) + tracked(href.position);
    last = href.end;
  }
  html += found.html.slice(last);
  if (options.openToken !== null) {
    const pixel = trackingPixelHtml(options.baseUrl, `${options.openToken}${tag}`);
    const body = html.lastIndexOf('</body>');
    html = body === -1 ? html + pixel : html.slice(0, body) + pixel + html.slice(body);
  }
  const byUrl = new Map<string, number>();
  for (const link of found.links) if (!byUrl.has(link.url)) byUrl.set(link.url, link.position);
  const text = found.text.replace(/https?:\/\/[^\s<>]+/g, (url) => {
    const position = byUrl.get(url);
    return position === undefined ? url : tracked(position);
  });
  const htmlTemplate = new FillTemplate(html, true);
  const textTemplate = new FillTemplate(text, false);
  return {
    ...edition,
    fill: (fields) => ({ html: htmlTemplate.fill(fields), text: textTemplate.fill(fields) }),
  };
}
