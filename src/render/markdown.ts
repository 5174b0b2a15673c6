import MarkdownIt from 'markdown-it';
import sanitizeHtml from 'sanitize-html';

const markdown = new MarkdownIt({ html: true, linkify: true, typographer: false });

/** How deep HTML elements in an article may nest; real articles stay under 15. */
export const MAX_HTML_NESTING = 100;

/**
 * The allow-list every piece of Markdown passes through, for email and web alike: no script,
 * event handler, style attribute, iframe, form, or javascript:/data: URL survives.
 */
const SAFE_OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [
    'p',
    'br',
    'hr',
    'h4',
    'h5',
    'h6',
    'strong',
    'b',
    'em',
    'i',
    'u',
    's',
    'sub',
    'sup',
    'small',
    'a',
    'ul',
    'ol',
    'li',
    'blockquote',
    'code',
    'pre',
    'img',
    'table',
    'thead',
    'tbody',
    'tr',
    'th',
    'td',
    'figure',
    'figcaption',
    'abbr',
  ],
  allowedAttributes: {
    a: ['href', 'title'],
    img: ['src', 'alt', 'title', 'width', 'height'],
    abbr: ['title'],
    th: ['colspan', 'rowspan', 'scope'],
    td: ['colspan', 'rowspan'],
    ol: ['start'],
  },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['http', 'https'] },
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  // Deeper tags are dropped (their text kept): html-to-text recurses per element and overflowed the
  // stack at about 2,300 nested <b>, which made every page of the issue and the feed fail. Saving and
  // importing refuse such Markdown (markdownNestingProblem); this guards what is already stored.
  nestingLimit: MAX_HTML_NESTING,
  // Sections are h2 and article titles h3, so any heading inside a body (e.g. `### Background`) is h4.
  transformTags: { h1: 'h4', h2: 'h4', h3: 'h4' },
  nonTextTags: [
    'script',
    'style',
    'textarea',
    'option',
    'noscript',
    'iframe',
    'object',
    'embed',
    'form',
    'svg',
    'math',
  ],
};

/** The heading level Markdown's `#`, `##` and `###` become: one below what precedes the text. */
export type BodyHeading = 'h2' | 'h3' | 'h4';

/**
 * Markdown → sanitised HTML. The only HTML from people that any template prints unescaped.
 * Headings become `heading` (h4 in an article, under its h3 title), so heading levels never skip.
 */
export function markdownToSafeHtml(source: string, heading: BodyHeading = 'h4'): string {
  if (heading === 'h4') return sanitizeHtml(markdown.render(source), SAFE_OPTIONS);
  return sanitizeHtml(markdown.render(source), {
    ...SAFE_OPTIONS,
    allowedTags: [...(SAFE_OPTIONS.allowedTags as string[]), heading],
    transformTags: { h1: heading, h2: heading, h3: heading, h4: heading },
  });
}

/**
 * Why Markdown cannot be saved because its HTML nests too deep, or null. Measured on the HTML
 * Markdown produces (inline HTML included), before the sanitiser drops the excess.
 */
export function markdownNestingProblem(source: string, options: { inline?: boolean } = {}): string | null {
  let depth = 0;
  let deepest = 0;
  sanitizeHtml(options.inline ? markdown.renderInline(source) : markdown.render(source), {
    ...SAFE_OPTIONS,
    nestingLimit: undefined,
    onOpenTag: () => (deepest = Math.max(deepest, ++depth)),
    onCloseTag: () => depth--,
  });
  if (deepest <= MAX_HTML_NESTING) return null;
  return (
    `its HTML nests ${deepest} elements deep, more than the ${MAX_HTML_NESTING} allowed; ` +
    'close tags such as <b> or <blockquote> before opening more'
  );
}

/** Inline Markdown (one line, e.g. a takeaway) → sanitised HTML without a wrapping paragraph. */
export function inlineMarkdownToSafeHtml(source: string): string {
  return sanitizeHtml(markdown.renderInline(source), SAFE_OPTIONS);
}

export type InlineStyles = Record<string, string>;

/** An image's size in pixels, where it is known (images of the media library). */
export type ImageSizeOf = (src: string) => { width: number; height: number } | undefined;

/** The email's content column: images are never drawn wider. */
export const EMAIL_CONTENT_WIDTH = 552;

/**
 * Email clients ignore much of a <style> block, so the email gets our own inline styles (from
 * templates/email/styles.json) on already-sanitised HTML, and relative image/link URLs made absolute.
 */
export function styleForEmail(
  safeHtml: string,
  styles: InlineStyles,
  baseUrl: string,
  imageSizeOf: ImageSizeOf = () => undefined,
): string {
  const absolute = (url: string | undefined) => (url && url.startsWith('/') ? baseUrl + url : url);
  const transformTags: Record<string, sanitizeHtml.Transformer> = {};
  const tags = new Set([...Object.keys(styles), 'a', 'img']);
  for (const tag of tags) {
    transformTags[tag] = (tagName, attribs) => {
      const next: sanitizeHtml.Attributes = { ...attribs };
      if (tagName === 'img' && next.src) {
        // Width and height reserve the image's room before it loads (and Outlook needs the width).
        const size = imageSizeOf(next.src);
        const width = Math.min(size?.width ?? EMAIL_CONTENT_WIDTH, EMAIL_CONTENT_WIDTH);
        next.width = String(width);
        if (size) next.height = String(Math.round((size.height * width) / size.width));
      }
      if (next.href) next.href = absolute(next.href) ?? '';
      if (next.src) next.src = absolute(next.src) ?? '';
      let style = styles[tagName];
      // A width attribute alone is the image's narrowest size too, so a 552 px image would widen a
      // 375 px phone's column; a percentage width with a pixel cap shrinks (MJML's mj-image does this).
      if (tagName === 'img' && next.width) style = `${style ?? ''}width:100%;max-width:${next.width}px;`;
      if (style) next.style = style;
      return { tagName, attribs: next };
    };
  }
  const allowedAttributes: Record<string, string[]> = {};
  for (const [tag, attrs] of Object.entries(SAFE_OPTIONS.allowedAttributes as Record<string, string[]>)) {
    allowedAttributes[tag] = [...attrs];
  }
  for (const tag of Object.keys(styles)) allowedAttributes[tag] = [...(allowedAttributes[tag] ?? []), 'style'];
  // Void elements closed as MJML writes them (`<img …/>`), so a compiled frame with its slots filled
  // equals a direct compile byte for byte; text never holds a raw `/>` (it is escaped).
  return sanitizeHtml(safeHtml, {
    ...SAFE_OPTIONS,
    allowedAttributes,
    // Our own CSS only: every style value here comes from styles.json, never from an article.
    allowedStyles: undefined,
    parseStyleAttributes: false,
    transformTags,
  }).replace(/ \/>/g, '/>');
}
