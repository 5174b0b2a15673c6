import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { ARTIFACTS_DIR, launchChromium } from '../helpers/browser.js';
import type { Services } from '../../src/app/services.js';
import { ensureFirstAdmin, FIRST_ADMIN_EMAIL } from '../../editors/bootstrap.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { startScheduler, type RunningScheduler } from '../../scheduler/scheduler-service.js';
import { formatScheduleTime } from '../../scheduler/schedule.js';
import { startApp, type RunningApp } from './admin-helpers.js';
import { makePng } from '../fixtures/png.js';
import { importLongIssue } from '../fixtures/long-issue.js';

// The whole editor's job in a real Chromium against the real app, a real SQLite file and a
// loopback SMTP server: sign in with the first admin's one-time password, write an article with
// an image, compose an issue, reorder, preview, check the edition matrix, test-send, schedule and
// send now through their confirmation pages, and watch the dashboard reach "sent". Screenshots go to test/artifacts/admin-*.png.

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function captured(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { stream, text: () => text };
}

describe('the editors’ journey in Chromium', () => {
  let sink: SmtpSink;
  let env: TempEnv;
  let services: Services;
  let app: RunningApp;
  let scheduler: RunningScheduler;
  let browser: Browser;
  let page: Page;
  let password = '';
  const problems: string[] = [];

  beforeAll(async () => {
    sink = await startSmtpSink();
    const port = await freePort();
    env = makeTempEnv({ SMTP_URL: sink.url, BASE_URL: `http://127.0.0.1:${port}`, PORT: String(port) });
    services = await env.open();
    await importLongIssue(services);
    const ctx = { source: 'cli' as const };
    await addSubscriber(services.db, env.config.secretKey, { email: 'whole@example.org', name: 'Whole' }, ctx);
    await addSubscriber(
      services.db,
      env.config.secretKey,
      { email: 'chain@example.org', topics: ['shared-ledgers'] },
      ctx,
    );
    await addSubscriber(
      services.db,
      env.config.secretKey,
      { email: 'city@example.org', topics: ['city-services', 'shared-ledgers'] },
      ctx,
    );
    // Exactly what `npm start` does on a fresh database: the first admin, its password printed once.
    const out = captured();
    await ensureFirstAdmin(services, out.stream);
    password = /password: (\S+)/.exec(out.text())?.[1] ?? '';
    const again = captured();
    await ensureFirstAdmin(services, again.stream);
    expect(again.text()).toBe('');

    app = await startApp(services, port);
    // As `newsletter serve` runs it (a tick every second: nothing here waits for a minute).
    scheduler = await startScheduler(services, { tickMs: 1000 });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // Recorded from the start of every document, frames included (init scripts are not subject to CSP).
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
      });
    });
    page = await context.newPage();
    page.on('console', (message) => {
      // The deliberate wrong password is answered 401, which Chromium logs as a failed load.
      if (
        message.type() === 'error' &&
        !(page.url().endsWith('/admin/login') && message.text().includes('status of 401'))
      ) {
        problems.push(`${page.url()}: ${message.text()}`);
      }
    });
    page.on('pageerror', (error) => problems.push(`${page.url()}: ${error.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await scheduler?.stop();
    await app?.close();
    await services?.close();
    await sink?.close();
    env?.cleanup();
  });

  const shot = (name: string) =>
    page.screenshot({ path: path.join(ARTIFACTS_DIR, `admin-${name}.png`), fullPage: true });

  it('does the whole job', { timeout: 150_000 }, async () => {
    const base = env.config.baseUrl;
    expect(password).toMatch(/^\S{20}$/);

    // 1. Sign in (a wrong password first).
    await page.goto(`${base}/admin`);
    await expect.poll(() => page.url()).toContain('/admin/login');
    await page.getByLabel('Email').fill(FIRST_ADMIN_EMAIL);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('do not match an editor').waitFor();
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The one-time password opens only the page that replaces it.
    await page.getByRole('heading', { name: 'Choose your password' }).waitFor();
    await page.getByLabel('One-time password').fill(password);
    await page.locator('#password').fill('a password of my own');
    await page.getByLabel('New password again').fill('a password of my own');
    await page.getByRole('button', { name: 'Set my password' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await shot('01-signed-in');

    // 2. Write an article with an image; the live preview follows the typing.
    await page.goto(`${base}/admin/articles/new`);
    await page.getByLabel('Title').fill('Quantum pilots in Hefei');
    await page.getByLabel('Section (also the article').selectOption({ label: 'Office News' });
    await page.getByLabel('Tags').fill('Quantum, Pilots');
    await page.getByLabel('Takeaway').fill('Hefei opens **two** quantum pilot lines.');
    await page.locator('#body').fill('### Background\n\nThe city announced two *pilot lines*.');
    await page.locator('#body-preview em', { hasText: 'pilot lines' }).waitFor();
    await page.locator('#takeaway-preview strong', { hasText: 'two' }).waitFor();
    await page.getByLabel('Alt text').fill('The pilot line in Hefei');
    await page
      .getByLabel('Image file')
      .setInputFiles({ name: 'pilot.png', mimeType: 'image/png', buffer: makePng(120, 60) });
    await page.getByRole('button', { name: 'Save article' }).first().click();
    await page.getByText('Created.').waitFor();
    const body = await page.locator('#body').inputValue();
    expect(body).toMatch(/!\[The pilot line in Hefei\]\(\/media\/[\w-]+\.png\)/);
    const image = page.locator('#body-preview img[alt="The pilot line in Hefei"]');
    await image.waitFor();
    expect(await image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(120);
    await shot('02-article');

    // 3. Compose an issue from the long issue's articles and the new one.
    await page.goto(`${base}/admin/issues/new`);
    await page.locator('#title').fill('Riverside Open Standards Digest');
    await page.locator('#edition').fill('Volume 8');
    await page.locator('#period').fill('January 2021');
    await page.locator('#note').fill('A short issue to start the year.');
    await page.getByRole('button', { name: 'Create the issue' }).click();
    await page.getByText('Created.').waitFor();
    expect(page.url()).toContain('/admin/issues/january-2021');
    for (const title of [
      'Quantum pilots in Hefei',
      'The Exchange Office Opens a Reading Room',
      'Autumn Workshops on Testing Without a Network',
      'Two Ledger Standards Enter Public Review',
      'Street Lighting Working Group Holds Its First Meeting',
    ]) {
      await page.locator('#add-form label', { hasText: title }).first().click();
    }
    await page.getByRole('button', { name: 'Add the ticked articles' }).click();
    await page.locator('#arrange-form li[data-article-id]').nth(4).waitFor();
    await shot('03-composed');

    // 4. Reorder: drag and drop within Office News, then the keyboard alternative.
    const horizontal = page.locator('#arrange-form section', { hasText: 'Office News' }).locator('li[data-article-id]');
    const titlesOf = async () => horizontal.locator('.what a').allTextContents();
    const before = await titlesOf();
    expect(before).toHaveLength(3);
    // A drop moves the item at once, saves, then reloads the page: wait for that reload, or the
    // keyboard step below could race it.
    const reloaded = page.waitForEvent('load');
    await horizontal.nth(2).dragTo(horizontal.nth(0), { targetPosition: { x: 20, y: 5 } });
    await reloaded;
    expect(await titlesOf()).toEqual([before[2], before[0], before[1]]);
    await page.getByRole('button', { name: `Down “${before[2]}”` }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(titlesOf, { timeout: 30_000 }).toEqual([before[0], before[2], before[1]]);
    // Focus comes back to the same button, so the keyboard user can press again.
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.textContent?.trim() ?? ''))
      .toBe(`Down “${before[2]}”`);
    const index = await page.locator('.index-preview li').allTextContents();
    expect(index.slice(0, 3)).toEqual([before[0], before[2], before[1]]);
    await shot('04-reordered');

    // 5. Preview the email at 375 px beside 600 px; the phone frame has no sideways scroll.
    await page.getByRole('link', { name: 'Preview', exact: true }).click();
    await page.getByRole('heading', { name: 'Email at 375 px (phone)' }).waitFor();
    const phone = page.frameLocator('iframe[title="The email at 375 pixels wide"]');
    await phone.getByRole('heading', { name: /Quantum pilots in Hefei/ }).waitFor();
    // The frame titled as the phone's is 375 px wide inside, and its email fits it.
    const phoneFrame = await (
      await page.locator('iframe[title="The email at 375 pixels wide"]').elementHandle()
    )?.contentFrame();
    if (!phoneFrame) throw new Error('no 375 px frame');
    expect(phoneFrame.url()).toContain('/preview/email');
    const phone375 = await phoneFrame.evaluate(() => ({
      viewport: window.innerWidth,
      content: document.documentElement.scrollWidth,
    }));
    expect(phone375.viewport).toBe(375);
    expect(phone375.content).toBeLessThanOrEqual(375);
    await expect.poll(() => page.locator('pre.text-part').textContent()).toContain('Quantum pilots in Hefei');
    await page.locator('iframe[title="The email at 375 pixels wide"]').scrollIntoViewIfNeeded();
    await shot('05-preview');

    // 6. The edition matrix, and one edition previewed.
    // Pages with email frames shift as the frames load, so links there are followed by their href
    // (a click can land on whatever moved under the pointer).
    const follow = async (link: ReturnType<Page['getByRole']>) => {
      await page.goto(new URL((await link.getAttribute('href')) ?? '', base).toString());
    };
    await follow(page.getByRole('link', { name: 'Editions', exact: true }));
    const matrix = page.locator('#edition-matrix');
    await matrix.waitFor();
    const rows = await matrix.locator('tbody tr').allTextContents();
    // Each row: topics, subscribers, articles, email size against the budget, teasers, preview.
    expect(
      rows.map((r) =>
        r
          .replace(/\s+/g, ' ')
          .replace(/\d+\.\d of 90\.0 KiB/, 'SIZE')
          .trim(),
      ),
    ).toEqual([
      'City Services, Shared Ledgers 1 2 SIZE none Preview the edition for City Services, Shared Ledgers',
      'No topic chosen: the whole issue 1 5 SIZE none Preview the edition for No topic chosen: the whole issue',
      'Shared Ledgers 1 1 SIZE none Preview the edition for Shared Ledgers',
    ]);
    await shot('06-editions');
    await follow(matrix.getByRole('link', { name: 'Preview the edition for City Services, Shared Ledgers' }));
    // The preview names the topics in the topics' order, the matrix in its key's.
    await page.getByRole('heading', { name: 'Shared Ledgers, City Services' }).waitFor();
    await page
      .frameLocator('iframe[title="The email at 600 pixels wide"]')
      .getByRole('heading', { name: 'City Services', exact: true })
      .waitFor();
    expect(await page.locator('pre.text-part').textContent()).not.toContain('Quantum pilots in Hefei');
    await shot('07-edition-preview');

    // 7. Test send to the editor's own address, read back from the loopback SMTP server.
    await follow(page.getByRole('link', { name: 'Send', exact: true }));
    await page.getByRole('heading', { name: 'Send a test' }).waitFor();
    expect(await page.getByLabel('To', { exact: true }).inputValue()).toBe(FIRST_ADMIN_EMAIL);
    await page.getByLabel('To', { exact: true }).fill('editor@example.org');
    await page.locator('form[action$="/send/test"]').getByLabel('Shared Ledgers').check();
    await page.getByRole('button', { name: 'Send the test' }).click();
    await page.locator('#test-result').waitFor();
    const [test] = await sink.waitFor(1);
    expect(test?.envelopeTo).toEqual(['editor@example.org']);
    expect(test?.parsed.subject).toContain('[TEST]');
    expect(test?.parsed.text).toContain('Two Ledger Standards Enter Public Review');
    expect(test?.parsed.text).not.toContain('Quantum pilots in Hefei');
    await shot('08-test-sent');

    // 8. Schedule for tomorrow morning in the service's zone: a confirmation page shows what will
    // happen first. Then unschedule, send now (confirmed too) and watch the dashboard reach "sent".
    const at = formatScheduleTime(new Date(Date.now() + 86_400_000), env.config.scheduleTz);
    const [date = ''] = at.split(' ');
    await page.getByLabel('Date').fill(date);
    await page.getByLabel('Time', { exact: true }).fill('09:30');
    expect(await page.getByLabel('Time zone').inputValue()).toBe('Europe/Brussels');
    await page.getByRole('button', { name: 'Schedule…' }).click();
    await page.getByRole('heading', { name: /Schedule this issue\?/ }).waitFor();
    const confirmation = page.locator('#confirmation');
    expect(await confirmation.locator('[data-field="receiving"]').textContent()).toBe('3');
    expect(await confirmation.textContent()).toContain(`${date} 09:30 Europe/Brussels`);
    await shot('09-confirm-schedule');
    await confirmation.getByRole('button', { name: new RegExp(`^Schedule for ${date} 09:30`) }).click();
    await page.getByText('The issue is scheduled.').waitFor();
    await page.getByText(`Scheduled for ${date} 09:30 Europe/Brussels`).waitFor();
    expect(await page.getByLabel('Time', { exact: true }).inputValue()).toBe('09:30');
    await page.getByRole('button', { name: 'Unschedule' }).click();
    await page.getByText('The schedule was cleared').waitFor();
    await page.getByRole('button', { name: 'Send to all subscribers now…' }).click();
    await page.getByRole('heading', { name: /Send this issue now\?/ }).waitFor();
    await shot('09-confirm-send');
    await page.locator('#confirmation').getByRole('button', { name: 'Send to 3 subscribers now' }).click();
    await page.getByText('Sending started.').waitFor();
    const status = page.locator('#dashboard [data-field="status"]');
    await expect.poll(() => status.textContent(), { timeout: 60_000, interval: 500 }).toBe('sent');
    expect(await page.locator('#dashboard [data-field="sent"]').textContent()).toBe('3');
    await shot('10-sent');
    await sink.waitFor(4);
    expect(
      sink.received
        .slice(1)
        .map((m) => m.envelopeTo[0])
        .sort(),
    ).toEqual(['chain@example.org', 'city@example.org', 'whole@example.org']);

    // 9. The other pages render cleanly too.
    for (const [name, url] of [
      ['11-articles', '/admin/articles?q=quantum'],
      ['12-subscribers', '/admin/subscribers'],
      ['13-outbox', '/admin/outbox'],
      ['14-settings', '/admin/settings/topics'],
    ] as const) {
      await page.goto(`${base}${url}`);
      await page.locator('h1').waitFor();
      await shot(name);
    }

    expect(problems).toEqual([]);
  });
});
