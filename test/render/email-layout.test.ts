import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { importFolder } from '../../src/content/import.js';
import { ARTIFACTS_DIR, chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { hostileFolder } from '../helpers/hostile.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { importLongIssue, LONG_ISSUE } from '../fixtures/long-issue.js';

let env: TempEnv;
let services: Services;
let browser: Browser;

beforeAll(async () => {
  env = makeTempEnv();
  services = await env.open();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await services.close();
  env.cleanup();
});

async function emailFile(slug: string, topics: string[] | null, name: string): Promise<string> {
  const { html } = (await services.renderer.edition(slug, topics)).fill(services.renderer.previewFields(slug, topics));
  const file = path.join(env.dir, `${name}.html`);
  writeFileSync(file, html);
  return `file://${file}`;
}

describe.runIf(chromiumAvailable())('the email in headless Chromium', () => {
  beforeAll(async () => {
    await importLongIssue(services);
  });

  for (const width of [375, 600]) {
    it(`reads at ${width} px with no sideways scroll, and every Index link lands on an article of the web version`, async () => {
      const url = await emailFile(LONG_ISSUE.slug, null, 'full');
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      await page.goto(url);
      const layout = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        clientWidth: document.documentElement.clientWidth,
        widest: Math.max(...[...document.querySelectorAll('body *')].map((e) => e.getBoundingClientRect().right)),
      }));
      expect(layout.scrollWidth).toBeLessThanOrEqual(layout.clientWidth);
      expect(layout.widest).toBeLessThanOrEqual(width + 0.5);
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, `email-full-${width}.png`) });
      // Links to the web version's anchors, which every client follows (caniemail: in-email anchors
      // do nothing in Gmail for iOS and Yahoo's apps); no link targets the email itself.
      const targets = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLAnchorElement>('a[href*="#article-"]')].map((a) => a.href),
      );
      expect(await page.locator('a[href^="#"]').count()).toBe(0);
      const { articles } = LONG_ISSUE;
      // The Index links every article, and Takeaways every takeaway.
      expect(targets.length).toBeGreaterThanOrEqual(articles.length + articles.filter((a) => a.takeaway).length);
      const webFile = path.join(env.dir, 'web-full.html');
      writeFileSync(webFile, await services.renderer.renderWeb(LONG_ISSUE.slug, null));
      const web = await browser.newPage({ viewport: { width, height: 900 } });
      await web.goto(`file://${webFile}`);
      const missing = await web.evaluate(
        (ids) => ids.filter((id) => document.getElementById(id) === null),
        targets.map((t) => new URL(t).hash.slice(1)),
      );
      expect(missing).toEqual([]);
      // Following the last Index link shows its article at the top of the web version.
      const last = new URL(targets[articles.length - 1] as string).hash.slice(1);
      await web.goto(`file://${webFile}#${last}`);
      const top = await web.evaluate((id) => document.getElementById(id)?.getBoundingClientRect().top ?? -1, last);
      expect(Math.abs(top)).toBeLessThan(5);
      await web.close();
      await page.close();
    });
  }
});

describe.runIf(chromiumAvailable())('hostile content in a real browser', () => {
  let dir: string;
  beforeAll(async () => {
    dir = hostileFolder();
    await importFolder(services.db, dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs no script, shows no frame or form, in the email and the web version', async () => {
    const webFile = path.join(env.dir, 'web.html');
    writeFileSync(webFile, await services.renderer.renderWeb('welcome', null));
    for (const url of [await emailFile('welcome', null, 'hostile'), `file://${webFile}`]) {
      const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      // Every load has ended (so an image's error handler, had one survived, would have run).
      await page.goto(url, { waitUntil: 'networkidle' });
      const found = await page.evaluate(() => ({
        // Only our own script files may appear (the site layout may load one from /assets).
        scripts: document.querySelectorAll('script:not([src^="/assets/"])').length,
        frames: document.querySelectorAll('iframe, form, input, svg, object, embed').length,
        handlers: [...document.querySelectorAll('*')].filter((e) =>
          [...e.attributes].some((a) => a.name.startsWith('on')),
        ).length,
        badLinks: [...document.querySelectorAll('a[href]')].filter((a) =>
          /^(javascript|data):/i.test(a.getAttribute('href') ?? ''),
        ).length,
        fixed: [...document.querySelectorAll('*')].filter((e) => getComputedStyle(e).position === 'fixed').length,
      }));
      expect(dialogs).toEqual([]);
      expect(found).toEqual({ scripts: 0, frames: 0, handlers: 0, badLinks: 0, fixed: 0 });
      await page.close();
    }
  });
});
