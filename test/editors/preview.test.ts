import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { signedInEditor, type Client, type SignedIn } from './admin-helpers.js';
import { articlesFor, LONG_ISSUE } from '../fixtures/long-issue.js';

const SLUG = LONG_ISSUE.slug;

describe('previews and the edition matrix over HTTP', () => {
  let editor: SignedIn;
  let client: Client;

  beforeAll(async () => {
    editor = await signedInEditor({
      // A budget the whole issue exceeds, so it is fitted with teasers (and over it in `full` mode).
      env: { EMAIL_HTML_BUDGET: '40960' },
      seed: async (services, env) => {
        // Drop the Annex from the issue so a subscriber of only that topic has an empty edition.
        const annex = await services.db
          .selectFrom('topics')
          .select('id')
          .where('slug', '=', 'annex')
          .executeTakeFirstOrThrow();
        const issue = await services.db.selectFrom('issues').select('id').executeTakeFirstOrThrow();
        const annexArticles = services.db.selectFrom('articles').select('id').where('section_topic_id', '=', annex.id);
        await services.db
          .deleteFrom('issue_articles')
          .where('issue_id', '=', issue.id)
          .where('article_id', 'in', annexArticles)
          .execute();
        const ctx = { source: 'cli' as const };
        const add = (email: string, topics?: string[]) =>
          addSubscriber(services.db, env.config.secretKey, { email, topics }, ctx);
        await add('all1@example.org');
        await add('all2@example.org');
        await add('bc1@example.org', ['shared-ledgers', 'city-services']);
        await add('bc2@example.org', ['city-services', 'shared-ledgers']);
        await add('bc3@example.org', ['shared-ledgers', 'city-services']);
        await add('annex@example.org', ['annex']);
      },
    });
    ({ client } = editor);
  });
  afterAll(() => editor?.close());

  const ledgersAndCity = articlesFor(['shared-ledgers', 'city-services']).length;

  it('lists each distinct topic combination with audience and article count, empty ones flagged', async () => {
    const html = await (await client.get(`/admin/issues/${SLUG}/editions`)).text();
    const rows = [
      ...html.matchAll(
        /<tr( class="empty-edition")?>\s*<td>([^<]*)(?:<span[^>]*>[^<]*<\/span>)?<\/td>\s*<td class="num">(\d+)<\/td>\s*<td class="num">(\d+)<\/td>/g,
      ),
    ].map((m) => ({ empty: Boolean(m[1]), label: m[2]?.trim(), audience: Number(m[3]), articles: Number(m[4]) }));
    expect(rows).toEqual([
      { empty: false, label: 'City Services, Shared Ledgers', audience: 3, articles: ledgersAndCity },
      {
        empty: false,
        label: 'No topic chosen: the whole issue',
        audience: 2,
        articles: LONG_ISSUE.articles.length - 1,
      },
      { empty: true, label: 'Annex', audience: 1, articles: 0 },
    ]);
    // Handlebars escapes "=" in attributes as &#x3D;, which browsers read back as "=".
    expect(html).toContain(`href="/admin/issues/${SLUG}/preview?topics&#x3D;city-services,shared-ledgers"`);
    expect(html).toContain('1 edition is empty');
  });

  it('previews an edition: email frames with their own CSP, the text part and the web version', async () => {
    const page = await (await client.get(`/admin/issues/${SLUG}/preview?topics=city-services,shared-ledgers`)).text();
    expect(page).toContain(`src="/admin/issues/${SLUG}/preview/email?topics&#x3D;city-services,shared-ledgers"`);
    expect(page).toContain('Email at 375 px');
    expect(page).toContain(`<strong>${ledgersAndCity}</strong> articles`);
    expect(page).toContain('Text part');
    const email = await client.get(`/admin/issues/${SLUG}/preview/email?topics=city-services,shared-ledgers`);
    expect(email.status).toBe(200);
    expect(email.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(email.headers.get('content-security-policy')).toContain('sandbox');
    expect(email.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const emailHtml = await email.text();
    expect(emailHtml).toContain('City Services');
    expect(emailHtml).not.toContain('The Exchange Office Opens a Reading Room');
    const web = await client.get(`/admin/issues/${SLUG}/preview/web?topics=shared-ledgers`);
    expect(web.status).toBe(200);
    expect(await web.text()).toContain('Shared Ledgers');
    const unknown = await client.get(`/admin/issues/${SLUG}/preview?topics=nope`);
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('Unknown topic');
  });

  it('shows each edition’s size against the budget and the articles sent as teasers', async () => {
    const matrix = await (await client.get(`/admin/issues/${SLUG}/editions`)).text();
    const whole = /No topic chosen: the whole issue<\/td>[\s\S]*?<\/tr>/.exec(matrix)?.[0] ?? '';
    expect(whole).toMatch(/<td>\d+\.\d of 40\.0 KiB<\/td>/);
    expect(whole).toMatch(/<td>[1-9]\d* <span class="hint">\(articles [\d, ]+\)<\/span><\/td>/);
    const small = /City Services, Shared Ledgers<\/td>[\s\S]*?<\/tr>/.exec(matrix)?.[0] ?? '';
    expect(small).toMatch(/<td>\d+\.\d of 40\.0 KiB<\/td>\s*<td>(none|\d+ <span)/);

    const page = await (await client.get(`/admin/issues/${SLUG}/preview`)).text();
    expect(page).toMatch(/<strong>Email size:<\/strong> \d+\.\d of 40\.0 KiB as sent/);
    expect(page).toMatch(/<strong>\d+ articles? sent as teasers<\/strong>/);
    expect(page).toMatch(/<ul class="email-teasers"><li>\d+\. [^<]+<\/li>/);
  });

  it('warns loudly when the editor chose full articles and an edition is over the budget', async () => {
    const token = await client.csrfToken(`/admin/issues/${SLUG}`);
    const saved = await client.post(`/admin/issues/${SLUG}/details`, {
      _csrf: token,
      title: LONG_ISSUE.title,
      edition: LONG_ISSUE.edition,
      period: LONG_ISSUE.period,
      note: '',
      preheader: 'Quantum, blockchain and smart cities',
      emailFit: 'full',
    });
    expect(saved.status).toBe(303);
    const page = await (await client.get(`/admin/issues/${SLUG}/preview`)).text();
    expect(page).toContain(
      '<p class="warning email-over-budget" role="alert"><strong>Over the email size budget: Gmail will clip this email.</strong>',
    );
    const email = await (await client.get(`/admin/issues/${SLUG}/preview/email`)).text();
    expect(email).toContain('>Quantum, blockchain and smart cities&#847;');
    expect(email).not.toContain('Read the full article');
    const matrix = await (await client.get(`/admin/issues/${SLUG}/editions`)).text();
    expect(matrix).toMatch(/over budget: \d+\.\d of 40\.0 KiB/);
    const bad = await client.post(`/admin/issues/${SLUG}/details`, {
      _csrf: token,
      title: LONG_ISSUE.title,
      note: '',
      emailFit: 'everything',
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Choose how editions fit the size budget');
  });

  it('flags an empty edition instead of showing a message', async () => {
    const page = await (await client.get(`/admin/issues/${SLUG}/preview?topics=annex`)).text();
    expect(page).toContain('This edition holds no article');
  });
});
