import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedSnippet } from '../../api/embed-admin-routes.js';
import { listTopics } from '../../src/content/content-repository.js';
import { SIGNUP_LIMITS } from '../../subscribers/signup.js';
import { findSubscriberByEmail, listConsentLog } from '../../subscribers/subscriber-repository.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { linkIn, nextMailTo, startHarness, type WebHarness } from './web-harness.js';

// The sign-up form embedded in another website: a page served on a second loopback port (another
// origin) posts to /embed/subscribe, with and without the optional script, in Chromium. A third
// origin, not in EMBED_ORIGINS, is refused; a filled honeypot is answered alike and ignored.

interface Site {
  origin: string;
  /** The page's HTML, set once the newsletter's address is known. */
  html: string;
  close(): Promise<void>;
}

async function startSite(): Promise<Site> {
  const site: Site = { origin: '', html: '', close: () => Promise.resolve() };
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(site.html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  site.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  site.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return site;
}

const page = (body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A publisher's site</title></head><body><h1>Our site</h1>${body}</body></html>`;

let h: WebHarness;
let allowed: Site;
let foreign: Site;
let browser: Browser;
let snippet: string;

beforeAll(async () => {
  allowed = await startSite();
  foreign = await startSite();
  h = await startHarness({ env: { EMBED_ORIGINS: `${allowed.origin}, https://www.example.org` } });
  snippet = embedSnippet(h.base, await listTopics(h.services.db));
  if (chromiumAvailable()) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
  await allowed?.close();
  await foreign?.close();
});

const withoutScript = () => snippet.replace(/<script[^>]*><\/script>/, '');

async function fill(p: Page, email: string): Promise<void> {
  await p.fill('#newsletter-email', email);
  await p.fill('#newsletter-name', 'Embedded Reader');
  await p.check('input[name="topics"][value="open-data"]');
}

describe.skipIf(!chromiumAvailable())('embedded sign-up in Chromium', () => {
  it('signs up from an allowed site without a script: our "check your inbox" page, double opt-in', async () => {
    allowed.html = page(withoutScript());
    const p = await browser.newPage();
    await p.goto(allowed.origin);
    await fill(p, 'No.Script@Example.org');
    const seen = h.sink.received.length;
    await Promise.all([p.waitForURL(`${h.base}/embed/subscribe`), p.click('button[type="submit"]')]);
    expect(await p.textContent('h1')).toMatch(/Check your inbox/);
    const mail = await nextMailTo(h.sink, 'no.script@example.org', seen);
    expect(linkIn(mail, '/confirm')).toMatch(/^\/confirm\?token=/);
    const subscriber = await findSubscriberByEmail(h.services.db, 'no.script@example.org');
    expect(subscriber).toMatchObject({ status: 'pending', name: 'Embedded Reader', topicSlugs: ['open-data'] });
    const [consent] = await listConsentLog(h.services.db, subscriber?.id ?? -1);
    expect(consent).toMatchObject({ source: 'embed', action: 'signup' });
    expect(consent?.userAgent).toContain(`(form on ${allowed.origin})`);
    await p.close();
  });

  it('answers inside the form with the script, and stays on the site', async () => {
    allowed.html = page(snippet);
    const p = await browser.newPage();
    const errors: string[] = [];
    p.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await p.goto(allowed.origin);
    await fill(p, 'with.script@example.org');
    const seen = h.sink.received.length;
    await p.click('button[type="submit"]');
    await p.waitForSelector('form[data-newsletter-done]');
    expect(p.url()).toBe(`${allowed.origin}/`);
    expect(await p.textContent('[data-newsletter-status]')).toMatch(/^Check your inbox: we sent you a link/);
    await nextMailTo(h.sink, 'with.script@example.org', seen);
    expect(errors).toEqual([]);

    // A bad address is answered inside the form too, and nothing is recorded.
    await p.fill('#newsletter-email', 'not an address');
    await p.evaluate(() => document.querySelector('#newsletter-email')?.removeAttribute('type'));
    await p.click('button[type="submit"]');
    await p.waitForFunction(() =>
      /name@example\.org/.test(document.querySelector('[data-newsletter-status]')?.textContent ?? ''),
    );
    await p.close();
  });

  it('refuses a site not in EMBED_ORIGINS, with and without the script, and records nothing', async () => {
    foreign.html = page(withoutScript());
    const p = await browser.newPage();
    await p.goto(foreign.origin);
    await fill(p, 'foreign@example.org');
    const [response] = await Promise.all([
      p.waitForResponse(`${h.base}/embed/subscribe`),
      p.click('button[type="submit"]'),
    ]);
    expect(response.status()).toBe(403);
    expect(await p.textContent('h1')).toMatch(/not accepted from this site/);

    foreign.html = page(snippet);
    await p.goto(foreign.origin);
    await fill(p, 'foreign@example.org');
    await p.click('button[type="submit"]');
    await p.waitForFunction(() => (document.querySelector('[data-newsletter-status]')?.textContent ?? '') !== '');
    expect(await p.textContent('[data-newsletter-status]')).toMatch(/could not be sent/);
    expect(await findSubscriberByEmail(h.services.db, 'foreign@example.org')).toBeUndefined();
    await p.close();
  });

  it('answers a filled honeypot like any sign-up and ignores it', async () => {
    allowed.html = page(snippet);
    const p = await browser.newPage();
    await p.goto(allowed.origin);
    await fill(p, 'bot@example.org');
    await p.evaluate(() => {
      const trap = document.querySelector<HTMLInputElement>('input[name="website"]');
      if (trap) trap.value = 'https://spam.example';
    });
    await p.click('button[type="submit"]');
    await p.waitForSelector('form[data-newsletter-done]');
    expect(await p.textContent('[data-newsletter-status]')).toMatch(/^Check your inbox/);
    expect(await findSubscriberByEmail(h.services.db, 'bot@example.org')).toBeUndefined();
    await p.close();
  });
});

describe('embedded sign-up limits', () => {
  it('limits sign-ups per address like /subscribe, and needs an allowed Origin or Referer', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${h.base}/embed/subscribe`, {
        method: 'POST',
        headers: { accept: 'application/json', ...headers },
        body: new URLSearchParams({ email: 'limited@example.org', website: '' }),
      });
    const statuses: number[] = [];
    for (let i = 0; i <= SIGNUP_LIMITS.perAddress.limit; i++) {
      statuses.push((await post({ origin: 'https://www.example.org' })).status);
    }
    expect(statuses).toEqual([...Array<number>(SIGNUP_LIMITS.perAddress.limit).fill(200), 429]);
    const byReferer = await post({ referer: `${allowed.origin}/signup-page` });
    expect(byReferer.status).toBe(429);
    const noOrigin = await post({});
    expect(noOrigin.status).toBe(403);
    const answer = await post({ origin: 'https://www.example.org.evil.test' });
    expect(answer.status).toBe(403);
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
  });
});
