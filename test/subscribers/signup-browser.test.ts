import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSubscriberByEmail } from '../../subscribers/subscriber-repository.js';
import { ARTIFACTS_DIR, chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { linkIn, nextMailTo, startHarness, type WebHarness } from './web-harness.js';

let h: WebHarness;
let browser: Browser;

beforeAll(async () => {
  h = await startHarness();
  if (chromiumAvailable()) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

/** Presses Tab until the element matching `selector` has focus (keyboard only, like a person would). */
async function tabTo(page: Page, selector: string, maxPresses = 40): Promise<void> {
  for (let i = 0; i < maxPresses; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`${selector} never received focus by Tab`);
}

async function focusOutline(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement;
    return el ? getComputedStyle(el).outlineStyle : 'none';
  });
}

async function noSidewaysScroll(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
}

describe.skipIf(!chromiumAvailable())('sign-up in Chromium', () => {
  it('is completed with the keyboard alone, at 375 px, without a CSP violation', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 812 } });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });

    await page.goto(`${h.base}/subscribe`);
    expect(await noSidewaysScroll(page)).toBe(true);

    await tabTo(page, '#email');
    expect(await focusOutline(page)).not.toBe('none');
    await page.keyboard.type('Keyboard.User@Example.org');
    await tabTo(page, '#name');
    await page.keyboard.type('Kim Keys');
    await tabTo(page, '#topic-open-data');
    await page.keyboard.press('Space');
    await tabTo(page, '#topic-city-services');
    await page.keyboard.press('Space');
    await tabTo(page, 'button[type="submit"]');
    const seen = h.sink.received.length;
    await Promise.all([page.waitForURL(`${h.base}/subscribe`), page.keyboard.press('Enter')]);
    await expect.poll(() => page.locator('h1').textContent()).toBe('Check your inbox');
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'subscribe-sent-375.png') });

    const mail = await nextMailTo(h.sink, 'keyboard.user@example.org', seen);
    // The link opens a page with a Confirm button; only the button confirms.
    await page.goto(h.base + linkIn(mail, '/confirm'));
    expect(await page.locator('h1').textContent()).toBe('Confirm your subscription');
    expect((await findSubscriberByEmail(h.services.db, 'keyboard.user@example.org'))?.status).toBe('pending');
    await tabTo(page, 'main button[type="submit"]');
    await Promise.all([page.waitForLoadState('load'), page.keyboard.press('Enter')]);
    await expect.poll(() => page.locator('h1').textContent()).toBe('You are subscribed');
    const subscriber = await findSubscriberByEmail(h.services.db, 'keyboard.user@example.org');
    expect(subscriber).toMatchObject({
      status: 'active',
      name: 'Kim Keys',
      topicSlugs: ['open-data', 'city-services'],
    });

    // On to the preferences page by keyboard; it too fits the screen.
    await tabTo(page, 'main a[href^="/preferences"]');
    await Promise.all([page.waitForURL(/\/preferences\?token=/), page.keyboard.press('Enter')]);
    expect(await page.locator('h1').textContent()).toBe('Your subscription');
    expect(await noSidewaysScroll(page)).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'preferences-375.png'), fullPage: true });

    // Un-tick a topic and save, still by keyboard.
    await tabTo(page, '#topic-city-services');
    await page.keyboard.press('Space');
    await tabTo(page, 'button[type="submit"]');
    await Promise.all([page.waitForLoadState('load'), page.keyboard.press('Enter')]);
    await expect.poll(() => page.locator('.notice').textContent()).toBe('Your choices are saved.');
    expect((await findSubscriberByEmail(h.services.db, 'keyboard.user@example.org'))?.topicSlugs).toEqual([
      'open-data',
    ]);

    expect(violations).toEqual([]);
    await context.close();
  });
});
