import { afterEach, describe, expect, it } from 'vitest';
import { embedSnippet } from '../../api/embed-admin-routes.js';
import { listTopics } from '../../src/content/content-repository.js';
import { signedInEditor, type SignedIn } from '../editors/admin-helpers.js';

// Settings → Sign-up form: the snippet to paste (escaped in the page, every topic offered, the
// honeypot and the script), and what EMBED_ORIGINS allows.

let s: SignedIn | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe('the embeddable sign-up form', () => {
  it('builds a form that posts to /embed/subscribe, with each topic escaped, a honeypot and the optional script', () => {
    const html = embedSnippet('https://news.example.org', [
      { slug: 'open-data', name: 'Open data' },
      { slug: 'r-and-d', name: 'R&D <labs>' },
    ]);
    expect(html).toContain(
      '<form action="https://news.example.org/embed/subscribe" method="post" data-newsletter-embed>',
    );
    expect(html).toContain('<input type="checkbox" name="topics" value="open-data"> Open data</label>');
    expect(html).toContain('value="r-and-d"> R&amp;D &lt;labs&gt;</label>');
    expect(html).toMatch(/<input name="website" value="" tabindex="-1" autocomplete="off">/);
    expect(html).toContain('<script src="https://news.example.org/embed/subscribe.js" async></script>');
  });

  it('is shown to admins with the allowed origins, and not to editors', async () => {
    s = await signedInEditor({ role: 'admin', withLongIssue: true });
    const page = await (await s.client.get('/admin/settings/embed')).text();
    expect(page).toContain('set <code>EMBED_ORIGINS</code>');
    const shown = /<textarea id="snippet"[^>]*>([^<]*)<\/textarea>/.exec(page)?.[1] ?? '';
    const entities: Record<string, string> = {
      lt: '<',
      gt: '>',
      quot: '"',
      amp: '&',
      '#x3D': '=',
      '#x27': "'",
      '#x60': '`',
    };
    const text = shown.replace(/&(lt|gt|quot|amp|#x3D|#x27|#x60);/g, (_m, name: string) => entities[name] ?? '');
    expect(text).toBe(embedSnippet(s.services.config.baseUrl, await listTopics(s.services.db)));
    expect(text).toContain('value="open-data"');
    await s.close();

    s = await signedInEditor({ role: 'editor', withLongIssue: false });
    expect((await s.client.get('/admin/settings/embed')).status).toBe(403);
  });
});
