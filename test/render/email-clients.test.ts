import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { caniemail } from 'caniemail';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { startHarness, type WebHarness } from '../subscribers/web-harness.js';
import { LONG_ISSUE } from '../fixtures/long-issue.js';

// Issue 12 §5: client compatibility as a test. Every edition goes through caniemail's data for the
// clients most subscribers read in; axe-core checks the email and the web version in Chromium; the
// email must stay readable when Chromium darkens it.

const CLIENTS = [
  'gmail.desktop-webmail',
  'gmail.ios',
  'gmail.android',
  'outlook.windows',
  'outlook.macos',
  'outlook.outlook-com',
  'apple-mail.macos',
  'apple-mail.ios',
  'yahoo.desktop-webmail',
  'yahoo.ios',
  'yahoo.android',
];

/**
 * What caniemail reports unsupported that the email does not depend on, with the fallback that
 * covers it. Any other unsupported feature, or one of these in another client, fails the test.
 */
const KNOWN_FALLBACKS: { title: string; clients: string[]; fallback: string }[] = [
  {
    title: '@media',
    clients: ['outlook.windows'],
    fallback: 'MJML’s <!--[if mso]> tables give Outlook the fixed 600 px layout; the queries only narrow it for phones',
  },
  {
    title: 'Chaining selectors',
    clients: ['outlook.windows', 'outlook.outlook-com'],
    fallback:
      'only MJML’s Thunderbird rule `.moz-text-html .mj-column-per-100` chains; other clients get the column width inline',
  },
  {
    title: 'max-height property',
    clients: ['outlook.windows'],
    fallback: 'the preheader is hidden in Outlook by mso-hide:all',
  },
  { title: 'overflow', clients: ['outlook.windows'], fallback: 'the preheader is hidden in Outlook by mso-hide:all' },
  {
    title: 'word-spacing',
    clients: ['outlook.windows'],
    fallback: 'MJML sets it to `normal` on <body>, the default',
  },
  { title: 'outline', clients: ['outlook.windows'], fallback: 'MJML’s image reset `outline:none`: the default' },
  {
    title: '<body> element',
    clients: ['yahoo.ios', 'yahoo.android', 'outlook.macos'],
    fallback: 'the wrapper <div class="bg"> repeats the body’s background and language',
  },
  {
    title: 'height property',
    clients: ['yahoo.desktop-webmail', 'yahoo.ios', 'yahoo.android'],
    fallback: 'only `height:auto` on images, which as min-height:auto changes nothing',
  },
  {
    title: 'word-break',
    clients: ['yahoo.desktop-webmail', 'yahoo.ios', 'yahoo.android'],
    fallback: 'only breaks long URLs; the column is a fluid table, so an unbroken URL stays readable',
  },
  {
    title: 'aria-label attribute',
    clients: ['yahoo.desktop-webmail', 'yahoo.ios', 'yahoo.android'],
    fallback: 'MJML’s label of the message for screen readers; the subject says the same',
  },
  {
    title: 'color-scheme CSS property',
    clients: CLIENTS,
    fallback: 'a declaration of dark support: clients without it show the light design or darken it themselves',
  },
  {
    title: 'color-scheme meta tag',
    clients: CLIENTS,
    fallback: 'a declaration of dark support: clients without it show the light design or darken it themselves',
  },
];

interface Reported {
  title: string;
  notes: string[];
}

/** caniemail's errors (features with no support) per client, as `title` → clients. */
function unsupported(html: string): Map<string, Set<string>> {
  const result = caniemail({ clients: CLIENTS as never, html });
  const errors = (result.issues as unknown as { errors: Map<string, Reported[]> }).errors;
  const byTitle = new Map<string, Set<string>>();
  for (const [client, list] of errors) {
    for (const issue of list) {
      const clients = byTitle.get(issue.title) ?? new Set<string>();
      clients.add(client);
      byTitle.set(issue.title, clients);
    }
  }
  return byTitle;
}

function withoutFallback(html: string): string[] {
  const problems: string[] = [];
  for (const [title, clients] of unsupported(html)) {
    const known = KNOWN_FALLBACKS.find((k) => k.title === title);
    const uncovered = [...clients].filter((c) => !known?.clients.includes(c));
    if (uncovered.length > 0) problems.push(`${title}: ${uncovered.join(', ')}`);
  }
  return problems;
}

let h: WebHarness;
const slugs: string[] = [];
beforeAll(async () => {
  h = await startHarness();
  slugs.push(LONG_ISSUE.slug);
  slugs.push((await importFolder(h.services.db, DEMO_DIR)).slug);
  await h.services.db.updateTable('issues').set({ status: 'sent', sent_at: new Date().toISOString() }).execute();
});
afterAll(async () => {
  await h?.close();
});

async function allEditions(slug: string): Promise<(string[] | null)[]> {
  const doc = await h.services.renderer.document(slug);
  const topics = [...new Set(doc.articles.flatMap((a) => a.topics.map((t) => t.slug)))];
  const editions: (string[] | null)[] = [null];
  for (let mask = 1; mask < 1 << topics.length; mask++) editions.push(topics.filter((_, i) => mask & (1 << i)));
  return editions;
}

async function emailHtml(slug: string, topics: string[] | null): Promise<string> {
  const edition = await h.services.renderer.edition(slug, topics);
  return edition.fill(h.services.renderer.previewFields(slug, topics)).html;
}

describe('caniemail: Gmail, Outlook, Apple Mail and Yahoo', () => {
  it('in-email anchors would not work everywhere, so the email links to the web version instead', () => {
    const local = unsupported('<p><a href="#article-1">1. Title</a></p><h3 id="article-1">1. Title</h3>');
    expect([...(local.get('Local anchors') ?? [])].sort()).toEqual(
      expect.arrayContaining(['gmail.ios', 'yahoo.android', 'yahoo.ios']),
    );
  });

  it('every edition uses no feature these clients lack without a known fallback', async () => {
    for (const slug of slugs) {
      // Every edition of the project's long issue and of the demo.
      for (const topics of await allEditions(slug)) {
        const edition = await h.services.renderer.edition(slug, topics);
        if (edition.empty) continue;
        const html = await emailHtml(slug, topics);
        expect(withoutFallback(html), `${slug} ${topics?.join(',') ?? 'whole issue'}`).toEqual([]);
        expect(html).not.toMatch(/href="#/);
      }
    }
  }, 900_000);

  it('declares light and dark support and has dark styles', async () => {
    const html = await emailHtml(slugs[0] as string, null);
    expect(html).toContain('<meta name="color-scheme" content="light dark">');
    expect(html).toContain('<meta name="supported-color-schemes" content="light dark">');
    expect(html).toMatch(/@media \(prefers-color-scheme: dark\)/);
  });
});

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
interface AxeViolation {
  id: string;
  help: string;
  nodes: { target: string[] }[];
}

async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(o: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    });
    return result.violations;
  });
  return violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
}

describe.runIf(chromiumAvailable())('the email and the web version in Chromium', () => {
  let browser: Browser;
  let dark: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    // Chromium's forced dark mode: what Gmail's and other apps' automatic darkening does to an email.
    dark = await launchChromium(['--force-dark-mode', '--enable-features=WebContentsForceDark']);
  });
  afterAll(async () => {
    await browser?.close();
    await dark?.close();
  });

  const editionsToView = async (slug: string) => [
    null,
    [(await h.services.renderer.document(slug)).sections[1]?.slug ?? ''],
  ];

  it('axe-core finds no violation, best practices included, in the email and the web version', async () => {
    for (const slug of slugs) {
      for (const topics of await editionsToView(slug)) {
        const file = path.join(h.temp.dir, `axe-${slug}.html`);
        writeFileSync(file, await emailHtml(slug, topics));
        const page = await browser.newPage({ viewport: { width: 600, height: 900 } });
        await page.goto(`file://${file}`);
        expect(await axeViolations(page), `email ${slug} ${topics?.join(',') ?? ''}`).toEqual([]);
        expect(await page.locator('h1').count()).toBe(1);
        await page.close();

        const web = await browser.newPage({ viewport: { width: 1000, height: 900 }, bypassCSP: true });
        await web.goto(`${h.base}/issues/${slug}${topics ? `?topics=${topics.join(',')}` : ''}`);
        expect(await axeViolations(web), `web ${slug} ${topics?.join(',') ?? ''}`).toEqual([]);
        expect(await web.locator('h1').count()).toBe(1);
        await web.close();
      }
    }
  }, 180_000);

  it('images carry width, height and alt text', async () => {
    // An image of the media library, 1200 × 600, in an article of a copy of the demo issue.
    const page = await browser.newPage({ viewport: { width: 1200, height: 600 } });
    mkdirSync(h.services.config.mediaDir, { recursive: true });
    writeFileSync(path.join(h.services.config.mediaDir, 'chart.png'), await page.screenshot());
    await page.close();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'image-issue-'));
    cpSync(DEMO_DIR, dir, { recursive: true });
    // Its own slug and article file name, so the demo issue and its articles stay as they are.
    const original = path.join(dir, 'articles', '03-one-issue-many-editions.md');
    const article = path.join(dir, 'articles', '03-pictures.md');
    writeFileSync(article, `${readFileSync(original, 'utf8')}\n\n![Editions per topic, as bars](/media/chart.png)\n`);
    rmSync(original);
    const issueFile = path.join(dir, 'issue.md');
    writeFileSync(
      issueFile,
      readFileSync(issueFile, 'utf8')
        .replace('slug: "welcome"', 'slug: "pictures"')
        .replace('03-one-issue-many-editions.md', '03-pictures.md'),
    );
    const slug = (await importFolder(h.services.db, dir)).slug;
    rmSync(dir, { recursive: true, force: true });
    const images = (await emailHtml(slug, null)).match(/<img\b[^>]*>/g) ?? [];
    expect(images).toHaveLength(1);
    expect(images[0]).toMatch(/\swidth="552"/);
    expect(images[0]).toMatch(/\sheight="276"/);
    expect(images[0]).toMatch(/\salt="Editions per topic, as bars"/);
    for (const slug of slugs) {
      for (const img of (await emailHtml(slug, null)).match(/<img\b[^>]*>/g) ?? []) {
        expect(img).toMatch(/\swidth="\d+"/);
        expect(img).toMatch(/\sheight="\d+"/);
        expect(img).toMatch(/\salt="[^"]+"/);
      }
    }
  });

  it('stays readable under forced dark mode: body text and links at a contrast of 4.5:1 or more', async () => {
    const slug = slugs.at(-1) as string;
    const file = path.join(h.temp.dir, 'dark.html');
    writeFileSync(file, await emailHtml(slug, null));
    for (const colorScheme of ['dark', 'light'] as const) {
      const page = await dark.newPage({ viewport: { width: 600, height: 900 }, colorScheme });
      await page.goto(`file://${file}`);
      const targets = [
        'p.ed',
        '.t div > p:not([class])',
        'ol.ix a',
        'p.tk a',
        'h2',
        'h3',
        'p.tg',
        'h3 ~ p:not([class])',
        'h3 ~ p a',
        '.ft p a',
      ];
      for (const selector of targets) {
        const element = page.locator(selector).first();
        await element.scrollIntoViewIfNeeded();
        const shot = await element.screenshot();
        const ratio = await contrastOf(page, shot);
        expect(ratio, `${colorScheme}: ${selector}`).toBeGreaterThanOrEqual(4.5);
      }
      await page.close();
    }
  });
});

/**
 * The contrast ratio (WCAG) between the commonest colour of a screenshot (the background) and the
 * colour farthest from it in luminance (the text's strokes), read from the pixels in a canvas.
 */
async function contrastOf(page: Page, png: Buffer): Promise<number> {
  return page.evaluate(async (data) => {
    const image = new Image();
    image.src = `data:image/png;base64,${data}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d') as CanvasRenderingContext2D;
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, image.width, image.height).data;
    const channel = (c: number) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    const luminance = (i: number) =>
      0.2126 * channel(pixels[i] as number) +
      0.7152 * channel(pixels[i + 1] as number) +
      0.0722 * channel(pixels[i + 2] as number);
    const counts = new Map<number, number>();
    for (let i = 0; i < pixels.length; i += 4) {
      const key = ((pixels[i] as number) << 16) | ((pixels[i + 1] as number) << 8) | (pixels[i + 2] as number);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const background = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0;
    const bgL =
      0.2126 * channel((background >> 16) & 255) +
      0.7152 * channel((background >> 8) & 255) +
      0.0722 * channel(background & 255);
    let farthest = bgL;
    for (let i = 0; i < pixels.length; i += 4) {
      const l = luminance(i);
      if (Math.abs(l - bgL) > Math.abs(farthest - bgL)) farthest = l;
    }
    const [hi, lo] = farthest > bgL ? [farthest, bgL] : [bgL, farthest];
    return (hi + 0.05) / (lo + 0.05);
  }, png.toString('base64'));
}
