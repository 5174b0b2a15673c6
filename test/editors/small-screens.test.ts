import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { sendIssue } from '../../scheduler/send-control.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { LONG_ISSUE } from '../fixtures/long-issue.js';
import { EDITOR_PASSWORD, signedInEditor, type SignedIn } from './admin-helpers.js';

// The editors' app and the public pages in a real Chromium: the composer's takeaway fields
// (multi-line, Enter saves), quiet Remove buttons, pages that fit a 375 px phone, a glossary
// header that does not break inside a word, and a favicon.

describe('the app in Chromium, on a desk and on a phone', () => {
  let signedIn: SignedIn;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    signedIn = await signedInEditor();
    await addSubscriber(
      signedIn.services.db,
      signedIn.env.config.secretKey,
      {
        email: 'reader@example.org',
        name: 'A reader with a rather long name for a narrow column',
        topics: ['open-data'],
      },
      { source: 'cli' },
    );
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
    await page.goto(`${signedIn.app.url}/admin/login`);
    await page.getByLabel('Email').fill('ed@example.org');
    await page.getByLabel('Password').fill(EDITOR_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await signedIn?.close();
  });

  async function takeawayOf(title: string): Promise<string | null> {
    const row = await signedIn.services.db
      .selectFrom('articles')
      .select('takeaway')
      .where('title', '=', title)
      .executeTakeFirstOrThrow();
    return row.takeaway;
  }

  it('saves a multi-line takeaway with Enter (Shift+Enter starts a line), and Remove is not red until pointed at', async () => {
    await page.goto(`${signedIn.app.url}/admin/issues/${LONG_ISSUE.slug}`);
    // The second article of the first section: its section's "Up" button is the disabled one
    // that used to be the form's default button.
    const article = LONG_ISSUE.articles[1];
    if (!article) throw new Error('the long issue has articles');
    const field = page.getByLabel(`Takeaway of “${article.title}”`);
    await field.fill('');
    await field.pressSequentially('First line');
    await field.press('Shift+Enter');
    await field.pressSequentially('second line');
    await field.press('Enter');
    await expect.poll(() => takeawayOf(article.title)).toBe('First line\nsecond line');
    await page.locator('.notice', { hasText: 'Saved.' }).waitFor();
    await expect(page.getByLabel(`Takeaway of “${article.title}”`).inputValue()).resolves.toBe(
      'First line\nsecond line',
    );

    const remove = page.getByRole('button', { name: `Remove “${article.title}”` });
    const colours = () =>
      remove.evaluate((b) => ({ background: getComputedStyle(b).backgroundColor, color: getComputedStyle(b).color }));
    expect(await colours()).toEqual({ background: 'rgb(255, 255, 255)', color: 'rgb(179, 38, 30)' });
  });

  it('fits a 375 px screen: articles, overview, composer, subscriber page', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    const uid = (
      await signedIn.services.db
        .selectFrom('subscribers')
        .select('uid')
        .where('email', '=', 'reader@example.org')
        .executeTakeFirstOrThrow()
    ).uid;
    for (const path of ['/admin/articles', '/admin', `/admin/issues/${LONG_ISSUE.slug}`, `/admin/subscribers/${uid}`]) {
      await page.goto(`${signedIn.app.url}${path}`);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect({ path, width }).toEqual({ path, width: 375 });
    }
  });

  it('shows the glossary header words whole on a phone, and serves a favicon', async () => {
    // A send starts the web version (nobody matches: the issue is sent to its one reader).
    await sendIssue(signedIn.services, LONG_ISSUE.slug);
    await page.setViewportSize({ width: 320, height: 700 });
    await page.goto(`${signedIn.app.url}/issues/${LONG_ISSUE.slug}`);
    const lines = await page.locator('#glossary thead th').evaluateAll((cells) =>
      cells.map((cell) => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        return { text: cell.textContent, lines: tops.size };
      }),
    );
    expect(lines).toEqual([
      { text: 'Abbreviation', lines: 1 },
      { text: 'English', lines: 1 },
      { text: 'Chinese', lines: 1 },
    ]);
    const icon = await page.locator('link[rel="icon"]').getAttribute('href');
    expect(icon).toBe('/assets/favicon.svg');
    const svg = await page.request.get(`${signedIn.app.url}/favicon.ico`);
    expect(svg.status()).toBe(200);
    expect(svg.headers()['content-type']).toContain('image/svg+xml');
    expect(problems).toEqual([]);
  });
});
