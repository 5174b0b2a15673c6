import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { EncodedPages } from '../../src/web/encoded-pages.js';

/** A page of about `kb` KB that gzip cannot shrink much (so the byte cap is what limits). */
function page(seed: number, kb: number): string {
  let text = '';
  let x = seed + 1;
  while (text.length < kb * 1024) {
    x = (x * 1103515245 + 12345) % 2147483648;
    text += x.toString(36);
  }
  return `<p>${text}</p>`;
}

describe('EncodedPages', () => {
  it('encodes a page once and hands back the same bytes while the HTML is the same', () => {
    const pages = new EncodedPages();
    const html = page(1, 4);
    const first = pages.get('a', html);
    expect(first.body.toString('utf8')).toBe(html);
    expect(gunzipSync(first.gzip).toString('utf8')).toBe(html);
    expect(first.etag).toMatch(/^"[\w-]{27}"$/);
    expect(pages.get('a', html)).toBe(first);
    // A new rendering (an edit) replaces it.
    const edited = pages.get('a', html + '<p>corrected</p>');
    expect(edited).not.toBe(first);
    expect(edited.etag).not.toBe(first.etag);
  });

  it('holds at most its byte cap across all keys, dropping the least recently used', () => {
    const cap = 200 * 1024;
    const pages = new EncodedPages(cap);
    const kept = pages.get('issue-0', page(0, 30));
    for (let i = 1; i <= 40; i++) {
      pages.get(`issue-${i}`, page(i, 30));
      // issue-0 is read between the others, so it stays.
      expect(pages.get('issue-0', kept.html)).toBe(kept);
      expect(pages.size().bytes).toBeLessThanOrEqual(cap);
    }
    const { pages: count, bytes } = pages.size();
    expect(count).toBeGreaterThan(1);
    expect(count).toBeLessThan(10);
    expect(bytes).toBeGreaterThan(cap / 2);
  });
});
