import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { planIssueDeliveries, requireIssue } from '../../scheduler/delivery-repository.js';
import { MessageBuilder } from '../../scheduler/message-builder.js';
import {
  cancelSend,
  pauseSend,
  resumeSend,
  sendIssue,
  sendStatus,
  startSend,
  type SendReport,
} from '../../scheduler/send-control.js';
import { verifyToken } from '../../subscribers/tokens.js';
import { MjmlCompiler } from '../../src/render/mjml-compiler.js';
import { runCli } from '../helpers/cli.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { nowIso } from '../../src/db/database.js';
import { deliveriesOf, flat, insertSubscribers, insertUnusedTopic } from './fixtures.js';
import { byRecipient, rawHeader } from './mail.js';
import { demoSend } from './demo-send.js';
import { articlesFor, importLongIssue, LONG_ISSUE } from '../fixtures/long-issue.js';

describe('sending an issue to a real SMTP server', () => {
  let env: TempEnv;
  let services: Services;
  let sink: SmtpSink;
  let slug: string;
  let report: SendReport;
  let compilesBefore: number;

  beforeAll(async () => {
    sink = await startSmtpSink();
    env = makeTempEnv({ SMTP_URL: sink.url, SEND_CONCURRENCY: '3', MAIL_FROM: 'Riverside Digest <news@example.org>' });
    // A minute's idle time: only the send's release can end the compiler's thread before the checks.
    services = await env.open({ mjml: new MjmlCompiler({ idleMs: 60_000 }) });
    slug = await importLongIssue(services);
    await insertUnusedTopic(services.db);
    await insertSubscribers(services.db, [
      { email: 'all@example.org', name: 'Ann "All" <Reader>' },
      { email: 'sec@example.org', topics: ['privacy-security'] },
      { email: 'two@example.org', name: 'Two', topics: ['city-services', 'shared-ledgers'] },
      { email: 'garden@example.org', topics: ['gardening'] },
      { email: 'mixed@example.org', topics: ['gardening', 'open-data'] },
      { email: 'pending@example.org', status: 'pending' },
      { email: 'unsub@example.org', status: 'unsubscribed' },
      { email: 'bounced@example.org', status: 'bounced' },
      { email: 'leaves@example.org', topics: ['annex'] },
    ]);
    // Planning happens when the send starts; afterwards one subscriber leaves and one joins.
    const issue = await requireIssue(services.db, slug);
    expect(await planIssueDeliveries(services.db, issue.id, nowIso())).toBe(true);
    await services.db
      .updateTable('subscribers')
      .set({ status: 'unsubscribed' })
      .where('email', '=', 'leaves@example.org')
      .execute();
    await insertSubscribers(services.db, [{ email: 'late@example.org' }]);
    compilesBefore = services.renderer.compileCount;
    report = await sendIssue(services, slug);
  });

  afterAll(async () => {
    await services?.close();
    await sink?.close();
    env?.cleanup();
  });

  it('finishes and records every planned subscriber as sent or skipped', async () => {
    expect(report.outcome).toBe('finished');
    const rows = await deliveriesOf(services.db, slug);
    const status = Object.fromEntries(rows.map((r) => [r.email, r.status]));
    expect(status).toEqual({
      'all@example.org': 'sent',
      'sec@example.org': 'sent',
      'two@example.org': 'sent',
      'garden@example.org': 'skipped',
      'mixed@example.org': 'sent',
      'leaves@example.org': 'skipped',
    });
    expect(rows.find((r) => r.email === 'leaves@example.org')?.last_error).toMatch(/no longer active/);
    expect(rows.find((r) => r.email === 'garden@example.org')?.last_error).toMatch(/topics/);
    const s = await sendStatus(services, slug);
    expect(s.status).toBe('sent');
    expect(s.sentAt).not.toBeNull();
    expect(s.counts).toMatchObject({ planned: 6, sent: 4, skipped: 2, failed: 0, pending: 0, sending: 0 });
  });

  it('mails only active subscribers planned at the start, once each', () => {
    const got = byRecipient(sink.received);
    expect([...got.keys()].sort()).toEqual([
      'all@example.org',
      'mixed@example.org',
      'sec@example.org',
      'two@example.org',
    ]);
    for (const mails of got.values()) expect(mails).toHaveLength(1);
  });

  it('gives each subscriber exactly the articles of their topics, in HTML and text', () => {
    const titles = (topics: string[] | null) => articlesFor(topics).map((a) => a.title);
    const all = titles(null);
    const expected: Record<string, string[]> = {
      'all@example.org': all,
      'sec@example.org': titles(['privacy-security']),
      'two@example.org': titles(['shared-ledgers', 'city-services']),
      'mixed@example.org': titles(['open-data']),
    };
    for (const [email, mails] of byRecipient(sink.received)) {
      const mail = mails[0];
      if (!mail) throw new Error('no mail');
      const html = flat(String(mail.parsed.html));
      const text = flat(mail.parsed.text ?? '');
      const want = expected[email] ?? [];
      expect(want.length).toBeGreaterThan(0);
      for (const title of all) {
        const holds = want.includes(title);
        expect(html.includes(flat(title)), `${email} html ${holds ? 'lacks' : 'has'} "${title}"`).toBe(holds);
        expect(text.includes(flat(title)), `${email} text ${holds ? 'lacks' : 'has'} "${title}"`).toBe(holds);
      }
    }
  });

  it('writes every header listed in the README under "Every email"', async () => {
    const builder = new MessageBuilder({ config: services.config, publicationName: 'x' });
    const subscribers = await services.db.selectFrom('subscribers').select(['email', 'uid']).execute();
    const uidOf = new Map(subscribers.map((s) => [s.email, s.uid]));
    const ids = new Set<string>();
    for (const mail of sink.received) {
      const email = mail.envelopeTo[0] ?? '';
      const uid = uidOf.get(email) ?? '';
      const p = mail.parsed;
      expect(rawHeader(mail.raw, 'Content-Type')).toMatch(/^multipart\/alternative/);
      expect(p.html).toBeTruthy();
      expect(p.text).toBeTruthy();
      expect(p.from?.value[0]?.address).toBe('news@example.org');
      expect(p.to && !Array.isArray(p.to) ? p.to.value[0]?.address : undefined).toBe(email);
      expect(p.subject).toContain(LONG_ISSUE.title);
      expect(p.subject).toContain(LONG_ISSUE.period);
      // Message-ID: derived from issue and subscriber (same on every build), reveals neither.
      const messageId = rawHeader(mail.raw, 'Message-ID') ?? '';
      expect(messageId).toBe(builder.messageId(slug, uid));
      expect(messageId).toMatch(/^<[A-Za-z0-9_-]{20,}@example\.org>$/);
      expect(messageId).not.toContain(uid);
      expect(messageId).not.toContain(email.split('@')[0]);
      ids.add(messageId);
      expect(rawHeader(mail.raw, 'List-Id')).toMatch(/<[a-z0-9-]+\.example\.org>$/);
      const listUnsubscribe = rawHeader(mail.raw, 'List-Unsubscribe') ?? '';
      const match = /^<(http:\/\/localhost:3999\/unsubscribe\?token=([^>]+))>$/.exec(listUnsubscribe);
      expect(match, listUnsubscribe).not.toBeNull();
      const check = verifyToken(services.config.secretKey, 'unsubscribe', decodeURIComponent(match?.[2] ?? ''));
      expect(check).toMatchObject({ ok: true, uid });
      expect(rawHeader(mail.raw, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
      // The body links: web version, manage topics, unsubscribe (the same one-click URL).
      // Handlebars escapes `=` in attributes as &#x3D;; a browser decodes it back.
      const html = String(p.html)
        .replace(/&#x3D;/g, '=')
        .replace(/&amp;/g, '&');
      expect(html).toContain(match?.[1] ?? 'missing');
      expect(html).toMatch(/http:\/\/localhost:3999\/preferences\?token=m\./);
      expect(html).toContain(`http://localhost:3999/issues/${slug}`);
      expect(p.text).toContain(match?.[1] ?? 'missing');
    }
    expect(ids.size).toBe(sink.received.length);
  });

  it('escapes the subscriber name and encodes it in To', () => {
    const mail = sink.received.find((m) => m.envelopeTo[0] === 'all@example.org');
    const to = mail?.parsed.to && !Array.isArray(mail.parsed.to) ? mail.parsed.to.value[0] : undefined;
    expect(to?.name).toBe('Ann "All" <Reader>');
    expect(String(mail?.parsed.html)).not.toContain('<Reader>');
  });

  it('builds each distinct edition once per send (the MJML frame compiles once)', () => {
    // Editions: '*' (all), privacy-security, shared-ledgers+city-services, open-data (gardening dropped).
    expect(report.editionsBuilt).toBe(4);
    expect(services.renderer.compileCount - compilesBefore).toBe(1);
  });

  it("lets the MJML compiler's thread go once the frame is compiled, not after its idle time", () => {
    expect(services.mjml.running).toBe(false);
  });

  it('sends nothing on a finished issue and says so', async () => {
    const before = sink.received.length;
    const run = await runCli(['send', slug], env.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Nothing to send: .*already sent/);
    expect(sink.received.length).toBe(before);
  });
});

describe('pause, resume and cancel are conditional updates (issue 10)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });

  /** Two processes' worth of services on one database: two editors, or an editor and a sender. */
  async function twoEditors() {
    const { env, services: first, slug } = await demoSend(5, {}, cleanups);
    const second = await env.open();
    cleanups.push(() => second.close());
    const issue = await requireIssue(first.db, slug);
    await planIssueDeliveries(first.db, issue.id, nowIso());
    return { first, second, slug };
  }

  it('two pauses at once: one pauses, the other is told it already was', async () => {
    const { first, second, slug } = await twoEditors();
    const results = await Promise.all([pauseSend(first, slug, 'editor A'), pauseSend(second, slug, 'editor B')]);
    expect(results.map((r) => r.changed).sort()).toEqual([false, true]);
    const winner = results.find((r) => r.changed);
    expect((await sendStatus(first, slug)).pauseReason).toBe(winner?.pauseReason);
  });

  it('two resumes at once: one resumes', async () => {
    const { first, second, slug } = await twoEditors();
    await pauseSend(first, slug);
    const results = await Promise.all([resumeSend(first, slug), resumeSend(second, slug)]);
    expect(results.map((r) => r.changed).sort()).toEqual([false, true]);
    expect((await sendStatus(first, slug)).status).toBe('sending');
  });

  it('a pause racing a cancel never resurrects the cancelled send', async () => {
    const { first, second, slug } = await twoEditors();
    const [paused, cancelled] = await Promise.allSettled([pauseSend(first, slug), cancelSend(second, slug)]);
    expect(cancelled).toMatchObject({ status: 'fulfilled', value: { changed: true } });
    // The pause either came first (and was then cancelled) or was refused, naming the state.
    if (paused.status === 'rejected') expect(String(paused.reason)).toMatch(/is not sending \(it is cancelled\)/);
    const status = await sendStatus(first, slug);
    expect(status.status).toBe('cancelled');
    expect(status.counts).toMatchObject({ pending: 0, skipped: 5 });
  });

  it('two cancels at once: one cancels, the other is told it already was', async () => {
    const { first, second, slug } = await twoEditors();
    const results = await Promise.all([cancelSend(first, slug), cancelSend(second, slug)]);
    expect(results.map((r) => r.changed).sort()).toEqual([false, true]);
  });
});

describe('the email frame of a send (issue 13)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });

  it('is compiled where the send starts; a sender in another process sends without compiling MJML', async () => {
    const sink = await startSmtpSink();
    cleanups.push(() => sink.close());
    const { env, services: starter, slug } = await demoSend(6, { SMTP_URL: sink.url }, cleanups);
    await startSend(starter, slug);
    expect(starter.renderer.compileCount).toBe(1);
    expect(starter.mjml.running).toBe(false);
    const sender = await env.open();
    cleanups.push(() => sender.close());
    const report = await sendIssue(sender, slug);
    expect(report.outcome).toBe('finished');
    expect(sink.received).toHaveLength(6);
    expect(sender.renderer.compileCount).toBe(0);
    expect(sender.renderer.framesRead).toBe(1);
  });
});
