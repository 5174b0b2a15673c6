import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { LRUCache } from 'lru-cache';

export interface EncodedPage {
  html: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/** Bytes of encoded pages kept across all issues (UTF-8 and gzip bodies together). */
export const ENCODED_PAGE_BYTES = 16 * 1024 * 1024;

/**
 * The bytes of each cached web page, encoded once: the renderer caches the HTML string, this keeps
 * its UTF-8 body, gzip body and ETag, so a request costs no encoding, hashing or compression.
 * An entry is used only while the renderer hands back the very same string (so `invalidate` and
 * edits take effect at once). Capped in bytes, least recently used out first, however many issues
 * and topic combinations are requested.
 */
export class EncodedPages {
  private readonly pages: LRUCache<string, EncodedPage>;

  constructor(maxBytes = ENCODED_PAGE_BYTES) {
    this.pages = new LRUCache<string, EncodedPage>({
      maxSize: maxBytes,
      sizeCalculation: (page) => Math.max(1, page.body.length + page.gzip.length),
    });
  }

  get(key: string, html: string): EncodedPage {
    const cached = this.pages.get(key);
    if (cached && cached.html === html) return cached;
    const body = Buffer.from(html, 'utf8');
    const page: EncodedPage = {
      html,
      body,
      gzip: gzipSync(body, { level: 6 }),
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    };
    this.pages.set(key, page);
    return page;
  }

  /** How many pages and bytes are held. */
  size(): { pages: number; bytes: number } {
    return { pages: this.pages.size, bytes: this.pages.calculatedSize };
  }
}
