import type { Server } from 'node:http';
import { decodeHTML } from 'entities';
import { sql } from 'kysely';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { createWebApp } from '../../src/web/server.js';
import { sendIssue, sendTest } from '../../scheduler/send-control.js';
import { eraseEverywhere } from '../../subscribers/erasure.js';
import { buildDataExport } from '../../subscribers/data-export.js';
import { findSubscriberByEmail } from '../../subscribers/subscriber-repository.js';
import { findLinks } from '../../src/tracking/link-rewriter.js';
import { trackingTokens } from '../../src/tracking/click-token.js';
import { setTrackingSettings } from '../../src/tracking/tracking-repository.js';
import { touchIssuesHolding } from '../../src/content/content-repository.js';
import { LONG_ISSUE } from '../fixtures/long-issue.js';
import { rawHeader } from '../scheduler/mail.js';
import type { ReceivedMail } from '../helpers/smtp-sink.js';
import { startChildServer } from '../helpers/child-server.js';
import { Client, confirmedSubscriber, formFields, startHarness, type WebHarness } from '../subscribers/web-harness.js';

// Click tracking end to end: a real send to a real SMTP server, the links in the parsed mail
// followed over real HTTP, and the database read for what it holds about each person.

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

/** The paths of the tracked links (/r/…) of a mail's HTML part, in order. */
function trackedPaths(mail: ReceivedMail, prefix = '/r/'): string[] {
  const html = typeof mail.parsed.html === 'string' ? mail.parsed.html : '';
  return [...html.matchAll(/(?:href|src)="https?:\/\/[^/"]+(\/[ro]\/[A-Za-z0-9_.-]+)"/g)]
    .map((m) => m[1] as string)
    .filter((p) => p.startsWith(prefix));
}

function issueMailTo(h: WebHarness, to: string): ReceivedMail {
  const mail = h.sink.received.find(
    (m) =>
      m.envelopeTo.includes(to) && m.parsed.subject?.includes(LONG_ISSUE.period) && !m.parsed.subject.startsWith('['),
  );
  if (!mail) throw new Error(`no issue mail to ${to}`);
  return mail;
}

async function click(base: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('user-agent')) headers.set('user-agent', BROWSER);
  return fetch(base + path, { ...init, headers, redirect: 'manual' });
}

async function counts(services: Services): Promise<{ clicks: number; machine: number }> {
  const rows = await services.db.selectFrom('tracked_links').select(['clicks', 'machine_clicks']).execute();
  return rows.reduce((a, r) => ({ clicks: a.clicks + r.clicks, machine: a.machine + r.machine_clicks }), {
    clicks: 0,
    machine: 0,
  });
}

async function eventsOf(services: Services, email: string): Promise<number> {
  const subscriber = await findSubscriberByEmail(services.db, email);
  if (!subscriber) return 0;
  return (
    await services.db.selectFrom('click_events').select('id').where('subscriber_id', '=', subscriber.id).execute()
  ).length;
}

/** The original addresses of the whole-issue edition's links, by position. */
async function originalUrls(services: Services, slug: string): Promise<string[]> {
  return findLinks(await services.renderer.edition(slug, null)).links.map((l) => l.url);
}

async function issueIdOf(services: Services): Promise<number> {
  return (await services.db.selectFrom('issues').select('id').executeTakeFirstOrThrow()).id;
}

async function slugOf(services: Services): Promise<string> {
  return (await services.db.selectFrom('issues').select('slug').executeTakeFirstOrThrow()).slug;
}

describe('click tracking at the individual level, with one reader who opted in', () => {
  let h: WebHarness;
  let slug: string;
  let annPaths: string[];
  let bobPaths: string[];
  let annPage: { client: Client; managePath: string };

  beforeAll(async () => {
    h = await startHarness({ env: { CLICK_SCANNER_SECONDS: '0' } });
    slug = await slugOf(h.services);
    await setTrackingSettings(h.services.db, { level: 'individual', trackOpens: true });
    const ann = await confirmedSubscriber(h, 'ann@example.org', []);
    annPage = ann;
    const { csrf, html } = await formFields(ann.client, ann.managePath);
    expect(html).toContain('Record which links I click');
    const optIn = await ann.client.post(ann.managePath, { _csrf: csrf, action: 'tracking-on' });
    expect(optIn.html).toContain('We now record which links you click.');
    await confirmedSubscriber(h, 'bob@example.org', []);
    expect((await sendIssue(h.services, slug)).outcome).toBe('finished');
    annPaths = trackedPaths(issueMailTo(h, 'ann@example.org'));
    bobPaths = trackedPaths(issueMailTo(h, 'bob@example.org'));
  }, 120_000);

  afterAll(async () => h?.close());

  it('logs the opt-in in the consent log', async () => {
    const ann = await findSubscriberByEmail(h.services.db, 'ann@example.org');
    const log = await h.services.db
      .selectFrom('consent_log')
      .select(['action', 'source'])
      .where('subscriber_id', '=', ann?.id ?? 0)
      .execute();
    expect(log).toContainEqual({ action: 'tracking-opt-in', source: 'preferences' });
  });

  it('rewrites the links of the email, but not the personal links or the web version', async () => {
    const mail = issueMailTo(h, 'ann@example.org');
    const html = decodeHTML(String(mail.parsed.html));
    expect(annPaths.length).toBe((await originalUrls(h.services, slug)).length);
    expect(annPaths.length).toBeGreaterThan(10);
    expect(html).toMatch(/href="http:\/\/localhost:3999\/preferences\?token=m\./);
    expect(html).toMatch(/href="http:\/\/localhost:3999\/unsubscribe\?token=u\./);
    expect(html).toContain(`href="http://localhost:3999/issues/${slug}">Web version</a>`);
    expect(rawHeader(mail.raw, 'List-Unsubscribe')).toMatch(/\/unsubscribe\?token=u\./);
    // The text part's links to the same addresses go through the same tokens.
    const textPaths = [...(mail.parsed.text ?? '').matchAll(/http:\/\/localhost:3999(\/r\/[A-Za-z0-9_.-]+)/g)].map(
      (m) => m[1],
    );
    expect(textPaths.length).toBeGreaterThan(0);
    for (const p of textPaths) expect(annPaths).toContain(p);
    expect(trackedPaths(mail, '/o/')).toHaveLength(1);
  });

  it('names the reader who opted in in their tokens, and nobody in the others', async () => {
    const issueId = await issueIdOf(h.services);
    const tokens = trackingTokens(h.services.config.secretKey);
    const tagOf = (path: string) => {
      const check = tokens.verifyLink(path.slice(3));
      if (!check.ok || !check.tag) throw new Error('bad token');
      return check.tag;
    };
    const annTag = tokens.verifyTag(issueId, tagOf(annPaths[0] as string));
    const bobTag = tokens.verifyTag(issueId, tagOf(bobPaths[0] as string));
    expect(annTag?.subscriberId).toBeGreaterThan(0);
    expect(bobTag?.subscriberId).toBeNull();
  });

  it('redirects at once to the original address and records a person only if they opted in', async () => {
    const urls = await originalUrls(h.services, slug);
    const annClick = await click(h.base, annPaths[3] as string);
    expect(annClick.status).toBe(302);
    expect(annClick.headers.get('location')).toBe(urls[3]);
    const bobClick = await click(h.base, bobPaths[3] as string);
    expect(bobClick.status).toBe(302);
    expect(bobClick.headers.get('location')).toBe(urls[3]);
    await h.services.clicks.flush(true);

    expect(await counts(h.services)).toEqual({ clicks: 2, machine: 0 });
    expect(await eventsOf(h.services, 'ann@example.org')).toBe(1);
    expect(await eventsOf(h.services, 'bob@example.org')).toBe(0);
    const ann = await findSubscriberByEmail(h.services.db, 'ann@example.org');
    const exported = await buildDataExport(h.services.db, ann ?? (undefined as never));
    expect(exported.clicks).toEqual([{ at: expect.any(String), kind: 'link', issue: slug, url: urls[3] }]);
  });

  it('counts image-proxy opens as machines', async () => {
    const [pixel] = trackedPaths(issueMailTo(h, 'bob@example.org'), '/o/');
    const open = await click(h.base, pixel as string, {
      headers: { 'user-agent': 'Mozilla/5.0 (via ggpht.com GoogleImageProxy)' },
    });
    expect(open.status).toBe(200);
    expect(open.headers.get('content-type')).toBe('image/gif');
    await h.services.clicks.flush(true);
    const opens = await h.services.db
      .selectFrom('tracked_links')
      .select(['clicks', 'machine_clicks'])
      .where('kind', '=', 'open')
      .execute();
    expect(opens.reduce((n, r) => n + r.machine_clicks, 0)).toBe(1);
    expect(opens.reduce((n, r) => n + r.clicks, 0)).toBe(0);
  });

  it('counts a reader’s open, and records it as the reader’s only for the one who opted in', async () => {
    const opensOf = async () =>
      (await h.services.db.selectFrom('tracked_links').select('clicks').where('kind', '=', 'open').execute()).reduce(
        (n, r) => n + r.clicks,
        0,
      );
    const before = { opens: await opensOf(), ann: await eventsOf(h.services, 'ann@example.org') };
    for (const to of ['ann@example.org', 'bob@example.org']) {
      const [pixel] = trackedPaths(issueMailTo(h, to), '/o/');
      const open = await click(h.base, pixel as string);
      expect(open.status).toBe(200);
      expect(open.headers.get('content-type')).toBe('image/gif');
      expect(open.headers.get('cache-control')).toBe('no-store, private');
    }
    await h.services.clicks.flush(true);
    expect(await opensOf()).toBe(before.opens + 2);
    expect(await eventsOf(h.services, 'ann@example.org')).toBe(before.ann + 1);
    expect(await eventsOf(h.services, 'bob@example.org')).toBe(0);
    const ann = await findSubscriberByEmail(h.services.db, 'ann@example.org');
    const exported = await buildDataExport(h.services.db, ann ?? (undefined as never));
    expect(exported.clicks).toContainEqual({ at: expect.any(String), kind: 'open', issue: slug, url: '' });
  });

  it('records nothing more about a reader who withdraws, and logs the withdrawal', async () => {
    const { csrf, html } = await formFields(annPage.client, annPage.managePath);
    expect(html).toContain('Stop recording my clicks');
    const off = await annPage.client.post(annPage.managePath, { _csrf: csrf, action: 'tracking-off' });
    expect(off.html).toContain('We no longer record which links you click');
    const before = await counts(h.services);
    const annEvents = await eventsOf(h.services, 'ann@example.org');
    expect((await click(h.base, annPaths[5] as string)).status).toBe(302);
    await h.services.clicks.flush(true);
    expect(await counts(h.services)).toEqual({ clicks: before.clicks + 1, machine: before.machine });
    expect(await eventsOf(h.services, 'ann@example.org')).toBe(annEvents);
    const ann = await findSubscriberByEmail(h.services.db, 'ann@example.org');
    const log = await h.services.db
      .selectFrom('consent_log')
      .select('action')
      .where('subscriber_id', '=', ann?.id ?? 0)
      .execute();
    expect(log.map((l) => l.action)).toContain('tracking-opt-out');
  });

  it('erasure removes every personal event and keeps the counts', async () => {
    const before = await counts(h.services);
    const ann = await findSubscriberByEmail(h.services.db, 'ann@example.org');
    if (!ann) throw new Error('ann is missing');
    await eraseEverywhere(
      {
        db: h.services.db,
        secretKey: h.services.config.secretKey,
        outboxDir: h.services.config.outboxDir,
        logger: h.services.logger,
      },
      ann,
    );
    expect(await h.services.db.selectFrom('click_events').select('id').execute()).toEqual([]);
    expect(await counts(h.services)).toEqual(before);
    // Her old link still leads to its address; its click is counted and names nobody.
    expect((await click(h.base, annPaths[3] as string)).status).toBe(302);
    await h.services.clicks.flush(true);
    expect((await counts(h.services)).clicks).toBe(before.clicks + 1);
    expect(await h.services.db.selectFrom('click_events').select('id').execute()).toEqual([]);
  });
});

describe('click tracking at the aggregate level (the default)', () => {
  let h: WebHarness;
  let slug: string;
  let paths: string[];
  let scannerBase: string;
  let scannerServer: Server;

  beforeAll(async () => {
    h = await startHarness({ env: { CLICK_SCANNER_SECONDS: '0' } });
    slug = await slugOf(h.services);
    const seen = h.sink.received.length;
    await confirmedSubscriber(h, 'cat@example.org', []);
    // Opted in, but the level is aggregate: nothing about her is recorded.
    await h.services.db.updateTable('subscribers').set({ tracking_opt_in: true }).execute();
    expect(h.sink.received.length).toBeGreaterThan(seen);
    expect((await sendIssue(h.services, slug)).outcome).toBe('finished');
    paths = trackedPaths(issueMailTo(h, 'cat@example.org'));
    // The same server with the scanner rule on (a click within an hour of sending is a scanner's).
    const services: Services = { ...h.services, config: { ...h.services.config, tracking: { scannerSeconds: 3600 } } };
    scannerServer = createWebApp(services).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => scannerServer.once('listening', () => resolve()));
    scannerBase = `http://127.0.0.1:${(scannerServer.address() as AddressInfo).port}`;
  }, 120_000);

  afterAll(async () => {
    scannerServer?.closeAllConnections();
    await new Promise<void>((resolve) => (scannerServer ? scannerServer.close(() => resolve()) : resolve()));
    await h?.close();
  });

  it('has no open pixel unless opens are switched on', () => {
    expect(paths.length).toBeGreaterThan(10);
    expect(trackedPaths(issueMailTo(h, 'cat@example.org'), '/o/')).toEqual([]);
  });

  it('counts a reader’s click and holds nothing about the person', async () => {
    const before = await counts(h.services);
    const res = await click(h.base, paths[0] as string);
    expect(res.status).toBe(302);
    await h.services.clicks.flush(true);
    expect(await counts(h.services)).toEqual({ clicks: before.clicks + 1, machine: before.machine });
    expect(await eventsOf(h.services, 'cat@example.org')).toBe(0);
    const tokens = trackingTokens(h.services.config.secretKey);
    const check = tokens.verifyLink((paths[0] as string).slice(3));
    if (!check.ok || !check.tag) throw new Error('bad token');
    expect(tokens.verifyTag(await issueIdOf(h.services), check.tag)).toMatchObject({ subscriberId: null, test: false });
  });

  it('never redirects for a token whose signature fails, or that names no link', async () => {
    const token = (paths[1] as string).slice(3);
    const flipped = token.replace(/^(.)(.)/, (_m, a: string, b: string) => a + (b === 'A' ? 'B' : 'A'));
    for (const bad of [flipped, token.split('.')[0] as string, `${token.split('.')[0]}.AAAAAAAAAAAAAAA`, 'x', '']) {
      const res = await click(h.base, `/r/${bad}`);
      expect([400, 404], bad).toContain(res.status);
      expect(res.headers.get('location')).toBeNull();
      if (res.status === 400) expect(await res.text()).toContain('This link is not valid');
      // The page gets the app's security headers (the redirect itself has no body to protect).
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    }
    const unknown = trackingTokens(h.services.config.secretKey).linkToken({ kind: 'link', linkId: 999_999 });
    const res = await click(h.base, `/r/${unknown}.${token.split('.')[1]}`);
    expect(res.status).toBe(404);
    expect(res.headers.get('location')).toBeNull();
  });

  it('redirects machines but does not count them as readers', async () => {
    const before = await counts(h.services);
    const head = await click(h.base, paths[2] as string, { method: 'HEAD' });
    expect(head.status).toBe(302);
    const scanner = await click(h.base, paths[2] as string, {
      headers: { 'user-agent': 'Mozilla/5.0 (compatible; Barracuda Sentinel (EE))' },
    });
    expect(scanner.status).toBe(302);
    const prefetch = await click(h.base, paths[2] as string, { headers: { 'sec-purpose': 'prefetch' } });
    expect(prefetch.status).toBe(302);
    // Soon after sending (this server: within an hour).
    expect((await click(scannerBase, paths[2] as string)).status).toBe(302);
    // Many links of one message within a second: a scanner following them all.
    for (const p of paths.slice(4, 8)) expect((await click(h.base, p)).status).toBe(302);
    await h.services.clicks.flush(true);
    expect(await counts(h.services)).toEqual({ clicks: before.clicks, machine: before.machine + 8 });
  });

  it('follows the links of a test copy without counting them', async () => {
    const seen = h.sink.received.length;
    await sendTest(h.services, slug, 'editor@example.org', null);
    const [copy] = await h.sink.waitFor(seen + 1).then((all) => all.slice(seen));
    const testPaths = trackedPaths(copy as ReceivedMail);
    expect(testPaths.length).toBe(paths.length);
    const before = await counts(h.services);
    expect((await click(h.base, testPaths[0] as string)).status).toBe(302);
    await h.services.clicks.flush(true);
    expect(await counts(h.services)).toEqual(before);
  });

  it('writes every answered click before a gracefully stopped server exits (SIGTERM)', async () => {
    const before = await counts(h.services);
    const child = await startChildServer({
      ...h.temp.env,
      DEMO: 'false',
      SEND_WORKER: 'false',
      CLICK_SCANNER_SECONDS: '0',
    });
    try {
      const client = new Client(child.url);
      for (const p of paths.slice(0, 12)) {
        const res = await client.request(p, { headers: { 'user-agent': BROWSER } });
        expect(res.status).toBe(302);
      }
    } finally {
      expect(await child.stop('SIGTERM')).toBe(0);
    }
    const after = await counts(h.services);
    expect(after.clicks + after.machine - before.clicks - before.machine).toBe(12);
  }, 60_000);
});

describe('a link clicked in a test copy, then edited before the send', () => {
  let h: WebHarness;

  beforeAll(async () => {
    h = await startHarness({ env: { CLICK_SCANNER_SECONDS: '0' } });
    await confirmedSubscriber(h, 'eve@example.org', []);
  }, 120_000);

  afterAll(async () => h?.close());

  it('leads to the edited address, in the test copy and in the email sent after the edit', async () => {
    const slug = await slugOf(h.services);
    const base = h.services.config.baseUrl;
    const before = (await originalUrls(h.services, slug)).find((url) => !url.startsWith(base));
    if (!before) throw new Error('the issue links nowhere outside the site');
    const seen = h.sink.received.length;
    await sendTest(h.services, slug, 'editor@example.org', null);
    const [copy] = await h.sink.waitFor(seen + 1).then((all) => all.slice(seen));
    let testLink: string | undefined;
    for (const path of trackedPaths(copy as ReceivedMail))
      if ((await click(h.base, path)).headers.get('location') === before) testLink ??= path;
    if (!testLink) throw new Error(`no tracked link of the test copy leads to ${before}`);

    // The editor corrects that address in the library before sending.
    const after = 'https://example.org/the-corrected-address';
    const edited = await h.services.db
      .updateTable('articles')
      .set({
        body_markdown: sql<string>`replace(body_markdown, ${before}, ${after})`,
        sources_json: sql<string>`replace(sources_json, ${before}, ${after})`,
      })
      .where((eb) => eb.or([eb('body_markdown', 'like', `%${before}%`), eb('sources_json', 'like', `%${before}%`)]))
      .returning('id')
      .execute();
    await touchIssuesHolding(
      h.services.db,
      edited.map((r) => r.id),
    );
    expect(await originalUrls(h.services, slug)).toContain(after);
    expect(await originalUrls(h.services, slug)).not.toContain(before);

    expect((await sendIssue(h.services, slug)).outcome).toBe('finished');
    // The same link (same place in the same edition) in the sent email, now holding the edited address.
    const linkId = testLink.split('.')[0] as string;
    const sentLink = trackedPaths(issueMailTo(h, 'eve@example.org')).find((p) => p.startsWith(`${linkId}.`));
    if (!sentLink) throw new Error('the sent email lacks the link of the test copy');
    expect((await click(h.base, sentLink)).headers.get('location')).toBe(after);
    expect((await click(h.base, testLink)).headers.get('location')).toBe(after);
  }, 60_000);
});

describe('click tracking off', () => {
  let h: WebHarness;

  beforeAll(async () => {
    h = await startHarness();
    await setTrackingSettings(h.services.db, { level: 'off', trackOpens: true });
    await confirmedSubscriber(h, 'dan@example.org', []);
    expect((await sendIssue(h.services, await slugOf(h.services))).outcome).toBe('finished');
  }, 120_000);

  afterAll(async () => h?.close());

  it('sends the original links, no pixel, and records no link', async () => {
    const mail = issueMailTo(h, 'dan@example.org');
    const html = decodeHTML(String(mail.parsed.html));
    expect(html).not.toMatch(/localhost:3999\/[ro]\//);
    expect(mail.parsed.text).not.toContain('localhost:3999/r/');
    const urls = await originalUrls(h.services, await slugOf(h.services));
    expect(urls.length).toBeGreaterThan(10);
    for (const url of urls) expect(html).toContain(`href="${url}"`);
    expect(await h.services.db.selectFrom('tracked_links').select('id').execute()).toEqual([]);
  });
});
