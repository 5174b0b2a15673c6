import { describe, expect, it } from 'vitest';
import { findSubscriberByEmail } from '../../subscribers/subscriber-repository.js';
import { signToken, verifyToken } from '../../subscribers/tokens.js';
import { Client, confirmVia, linkIn, mainOf, nextMailTo, signUp, useHarness } from './web-harness.js';

const h = useHarness();

async function consentActions(
  email: string,
): Promise<{ action: string; source: string; ip: string | null; user_agent: string | null }[]> {
  return h.services.db
    .selectFrom('consent_log')
    .innerJoin('subscribers', 'subscribers.id', 'consent_log.subscriber_id')
    .select(['consent_log.action', 'consent_log.source', 'consent_log.ip', 'consent_log.user_agent'])
    .where('subscribers.email', '=', email)
    .orderBy('consent_log.id')
    .execute();
}

describe('sign-up with double opt-in', () => {
  it('shows a labelled form with every topic', async () => {
    const { res, html } = await new Client(h.base).get('/subscribe?topics=open-data');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(html).toMatch(/<label for="email">/);
    expect(html).toMatch(/<label for="name">/);
    expect(html).toMatch(/<legend>Topics<\/legend>/);
    const topics = await h.services.db.selectFrom('topics').select('slug').execute();
    expect(topics.length).toBeGreaterThan(3);
    for (const t of topics) expect(html).toContain(`value="${t.slug}"`);
    // ?topics= from an edition's "Subscribe" link pre-ticks that topic only.
    expect(html).toMatch(/value="open-data" id="topic-open-data" checked/);
    expect(html).not.toMatch(/value="shared-ledgers" id="topic-shared-ledgers" checked/);
  });

  it('confirms through the link in the received mail, once, with the chosen topics', async () => {
    const client = new Client(h.base);
    const seen = h.sink.received.length;
    const { res, html } = await signUp(client, {
      email: '  Ann.Reader@Example.ORG ',
      name: 'Ann <b>Reader</b>',
      topics: ['open-data', 'shared-ledgers'],
    });
    expect(res.status).toBe(200);
    expect(mainOf(html)).toContain('Check your inbox');

    const pending = await findSubscriberByEmail(h.services.db, 'ann.reader@example.org');
    expect(pending?.status).toBe('pending');
    expect(pending?.confirmedAt).toBeNull();

    const mail = await nextMailTo(h.sink, 'ann.reader@example.org', seen);
    expect(mail.parsed.subject).toMatch(/^Confirm your subscription to /);
    expect(mail.parsed.html).toBeTruthy();
    // Nothing typed at sign-up goes to an address not confirmed yet: not even the name.
    expect(mail.parsed.html).not.toContain('Reader');
    expect(mail.parsed.text).not.toContain('Reader');
    expect(mail.parsed.text).toContain('expires in 7 days');
    const confirmPath = linkIn(mail, '/confirm');
    // The HTML part carries the same link (attribute-escaped).
    expect((mail.parsed.html as string).replaceAll('&#x3D;', '=')).toContain(confirmPath);
    // The token carries the random uid, never the row id.
    expect(confirmPath).toContain(pending?.uid);

    // Opening the link (GET, or HEAD as mail scanners do) only shows a Confirm button.
    const head = await client.request(confirmPath, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const page = await client.get(confirmPath);
    expect(page.res.status).toBe(200);
    expect(mainOf(page.html)).toContain('Confirm your subscription');
    expect(page.html).toMatch(/<form method="post" action="\/confirm\?token&#x3D;c\./);
    expect((await findSubscriberByEmail(h.services.db, 'ann.reader@example.org'))?.status).toBe('pending');
    expect((await consentActions('ann.reader@example.org')).map((l) => l.action)).toEqual(['signup']);

    const confirmed = await confirmVia(client, confirmPath);
    expect(confirmed.res.status).toBe(200);
    expect(mainOf(confirmed.html)).toContain('You are subscribed');
    expect(confirmed.html).toMatch(/href="\/preferences\?token&#x3D;m\./);

    const active = await findSubscriberByEmail(h.services.db, 'ann.reader@example.org');
    expect(active?.status).toBe('active');
    expect(active?.confirmedAt).not.toBeNull();
    expect(active?.name).toBe('Ann <b>Reader</b>');
    expect([...(active?.topicSlugs ?? [])].sort()).toEqual(['open-data', 'shared-ledgers']);

    const log = await consentActions('ann.reader@example.org');
    expect(log.map((l) => `${l.action}/${l.source}`)).toEqual(['signup/form', 'confirm/form']);
    expect(log[0]?.ip).toBe('127.0.0.1');
    expect(log[0]?.user_agent).toBeTruthy();

    // The link confirms once: opening it again, or pressing the button again, changes nothing and says so.
    const again = await client.get(confirmPath);
    expect(again.res.status).toBe(410);
    expect(mainOf(again.html)).toContain('already been used');
    const twice = await client.post(confirmPath, { _csrf: /name="_csrf" value="([^"]+)"/.exec(page.html)?.[1] ?? '' });
    expect(twice.res.status).toBe(410);
    expect((await consentActions('ann.reader@example.org')).length).toBe(2);
  });

  it('answers a repeated sign-up exactly like a new one and mails the owner instead', async () => {
    const before = await findSubscriberByEmail(h.services.db, 'ann.reader@example.org');
    expect(before?.status).toBe('active');
    const seen = h.sink.received.length;

    const known = await signUp(new Client(h.base), {
      email: 'ann.reader@example.org',
      name: 'Mallory',
      topics: ['city-services'],
    });
    const fresh = await signUp(new Client(h.base), {
      email: 'new.person@example.org',
      name: 'Mallory',
      topics: ['city-services'],
    });
    expect(known.res.status).toBe(fresh.res.status);
    expect(known.html).toBe(fresh.html);
    const headersOf = (r: Response) =>
      [...r.headers]
        .filter(([k]) => k !== 'date')
        .map(([k, v]) => `${k}: ${v}`)
        .sort();
    expect(headersOf(known.res)).toEqual(headersOf(fresh.res));

    // Nothing about the known subscriber changed…
    const after = await findSubscriberByEmail(h.services.db, 'ann.reader@example.org');
    expect(after?.name).toBe(before?.name);
    expect(after?.topicSlugs).toEqual(before?.topicSlugs);
    // …and only the owner learns, by mail, that the address was already subscribed.
    const notice = await nextMailTo(h.sink, 'ann.reader@example.org', seen);
    expect(notice.parsed.subject).toMatch(/^You already receive /);
    expect(linkIn(notice, '/preferences')).toContain('token=m.');
    expect(linkIn(notice, '/unsubscribe')).toContain('token=u.');
    const confirmation = await nextMailTo(h.sink, 'new.person@example.org', seen);
    expect(confirmation.parsed.subject).toMatch(/^Confirm your subscription/);
    expect((await consentActions('ann.reader@example.org')).map((l) => l.action)).toContain('signup-repeated');
  });

  it('refuses a forged form post without a valid CSRF token', async () => {
    const count = async () => (await h.services.db.selectFrom('subscribers').select('id').execute()).length;
    const before = await count();
    const noCookie = await new Client(h.base).post('/subscribe', { email: 'forged@example.org', name: 'F' });
    expect(noCookie.res.status).toBe(403);
    expect(mainOf(noCookie.html)).toContain('could not be accepted');

    const client = new Client(h.base);
    await client.csrfFrom('/subscribe');
    const wrongToken = await client.post('/subscribe', { _csrf: 'f'.repeat(64), email: 'forged@example.org' });
    expect(wrongToken.res.status).toBe(403);
    expect(await count()).toBe(before);
    expect(await findSubscriberByEmail(h.services.db, 'forged@example.org')).toBeUndefined();
  });

  it('refuses an oversized form body before reading it', async () => {
    const client = new Client(h.base);
    const csrf = await client.csrfFrom('/subscribe');
    const { res } = await client.post('/subscribe', {
      _csrf: csrf,
      email: 'big.body@example.org',
      name: 'x'.repeat(100_000),
    });
    expect(res.status).toBe(413);
    expect(await findSubscriberByEmail(h.services.db, 'big.body@example.org')).toBeUndefined();
  });

  it('explains a bad address and keeps what was typed, escaped', async () => {
    const client = new Client(h.base);
    const csrf = await client.csrfFrom('/subscribe');
    const { res, html } = await client.post('/subscribe', {
      _csrf: csrf,
      email: 'not-an-address"><script>',
      name: '<i>x</i>',
    });
    expect(res.status).toBe(400);
    expect(html).toContain('Enter an email address in the form name@example.org.');
    expect(html).toContain('aria-invalid="true"');
    expect(html).toContain('value="not-an-address&quot;&gt;&lt;script&gt;"');
    expect(html).not.toContain('<script>');
    expect(html).toContain('value="&lt;i&gt;x&lt;/i&gt;"');
  });

  it('puts nothing typed at sign-up into the confirmation mail: a "name" cannot speak to any inbox in our name', async () => {
    const seen = h.sink.received.length;
    const lure = 'your mailbox is full. Restore access at https://evil.example/login before it is deleted';
    await signUp(new Client(h.base), { email: 'victim@example.org', name: lure });
    const mail = await nextMailTo(h.sink, 'victim@example.org', seen);
    for (const part of [mail.parsed.text ?? '', mail.parsed.html || '', mail.parsed.subject ?? '']) {
      expect(part).not.toContain('mailbox is full');
      expect(part).not.toContain('evil.example');
    }
    expect(mail.parsed.text).toMatch(/^Hello,$/m);
    // The name is kept for the confirmed subscription (mail to a confirmed address may use it).
    expect((await findSubscriberByEmail(h.services.db, 'victim@example.org'))?.name).toBe(lure);
  });

  it('refuses tampered, expired and wrong-purpose confirmation links and changes nothing', async () => {
    const client = new Client(h.base);
    const seen = h.sink.received.length;
    await signUp(client, { email: 'careful@example.org' });
    const mail = await nextMailTo(h.sink, 'careful@example.org', seen);
    const good = linkIn(mail, '/confirm');
    const subscriber = await findSubscriberByEmail(h.services.db, 'careful@example.org');
    if (!subscriber) throw new Error('no pending subscriber');
    const secret = h.services.config.secretKey;

    const lastChar = good.at(-1) === 'A' ? 'B' : 'A';
    const tampered = good.slice(0, -1) + lastChar;
    const otherUid = good.replace(subscriber.uid, 'AAAAAAAAAAAAAAAAAAAAAA');
    const wrongPurpose = `/confirm?token=${signToken(secret, 'manage', subscriber.uid)}`;
    const expired = `/confirm?token=${signToken(secret, 'confirm', subscriber.uid, new Date(Date.now() - 1000))}`;
    const otherSecret = `/confirm?token=${signToken('another-secret-another-secret-12', 'confirm', subscriber.uid, new Date(Date.now() + 60_000))}`;

    for (const [path, status, text] of [
      [tampered, 400, 'not valid'],
      [otherUid, 400, 'not valid'],
      [wrongPurpose, 400, 'different page'],
      [otherSecret, 400, 'not valid'],
      [expired, 410, 'expired'],
      ['/confirm', 400, 'incomplete'],
    ] as const) {
      const { res, html } = await client.get(path);
      expect(res.status, path).toBe(status);
      expect(mainOf(html), path).toContain(text);
      expect(mainOf(html), path).toContain('Nothing has been changed');
    }
    const after = await findSubscriberByEmail(h.services.db, 'careful@example.org');
    expect(after?.status).toBe('pending');
    expect((await consentActions('careful@example.org')).map((l) => l.action)).toEqual(['signup']);

    // A POST without the page's form token changes nothing either.
    expect((await client.post(good, {})).res.status).toBe(403);
    expect((await findSubscriberByEmail(h.services.db, 'careful@example.org'))?.status).toBe('pending');
    expect((await confirmVia(client, good)).res.status).toBe(200);
    expect((await findSubscriberByEmail(h.services.db, 'careful@example.org'))?.status).toBe('active');
  });

  it('signing up again while pending mails a fresh link and the older one still confirms until it expires', async () => {
    const email = 'second.thoughts@example.org';
    let seen = h.sink.received.length;
    await signUp(new Client(h.base), { email, name: 'First', topics: ['open-data'] });
    const older = linkIn(await nextMailTo(h.sink, email, seen), '/confirm');
    seen = h.sink.received.length;
    await signUp(new Client(h.base), { email, name: 'Second', topics: ['shared-ledgers'] });
    const newer = linkIn(await nextMailTo(h.sink, email, seen), '/confirm');
    expect(newer).not.toBe(older);
    expect((await findSubscriberByEmail(h.services.db, email))?.status).toBe('pending');

    // Each link runs its own 7 days from when it was mailed: the newer one did not cut the older one short.
    const secret = h.services.config.secretKey;
    const tokenOf = (path: string) => new URL(path, h.base).searchParams.get('token') ?? '';
    const sixDaysOn = new Date(Date.now() + 6 * 86_400_000);
    const eightDaysOn = new Date(Date.now() + 8 * 86_400_000);
    expect(verifyToken(secret, 'confirm', tokenOf(older), sixDaysOn)).toMatchObject({ ok: true });
    expect(verifyToken(secret, 'confirm', tokenOf(older), eightDaysOn)).toEqual({ ok: false, reason: 'expired' });

    // The older link, from a mail the person happened to open first, confirms: with the latest choice.
    const client = new Client(h.base);
    const confirmed = await confirmVia(client, older);
    expect(confirmed.res.status).toBe(200);
    expect(mainOf(confirmed.html)).toContain('You are subscribed');
    const subscriber = await findSubscriberByEmail(h.services.db, email);
    expect(subscriber).toMatchObject({ status: 'active', name: 'Second', topicSlugs: ['shared-ledgers'] });
    expect((await consentActions(email)).map((l) => [l.action, l.source])).toEqual([
      ['signup', 'form'],
      ['signup-repeated', 'form'],
      ['signup-changed', 'form'],
      ['confirm', 'form'],
    ]);

    // The newer link then says what happened, without claiming it was itself the one used.
    const after = await new Client(h.base).get(newer);
    expect(after.res.status).toBe(410);
    expect(mainOf(after.html)).toContain('already confirmed, with this link or another one we sent you');
    expect((await consentActions(email)).length).toBe(4);
  });

  it('brings back an unsubscribed address only through a newly mailed link', async () => {
    const client = new Client(h.base);
    let seen = h.sink.received.length;
    await signUp(client, { email: 'returner@example.org', topics: ['open-data'] });
    const firstLink = linkIn(await nextMailTo(h.sink, 'returner@example.org', seen), '/confirm');
    expect((await confirmVia(client, firstLink)).res.status).toBe(200);
    const subscriber = await findSubscriberByEmail(h.services.db, 'returner@example.org');
    const unsubscribe = `/unsubscribe?token=${signToken(h.services.config.secretKey, 'unsubscribe', subscriber?.uid ?? '')}`;
    expect((await client.post(unsubscribe, { 'List-Unsubscribe': 'One-Click' })).res.status).toBe(200);

    // The old confirmation link does not undo the withdrawal.
    const old = await client.get(firstLink);
    expect(old.res.status).toBe(410);
    expect((await findSubscriberByEmail(h.services.db, 'returner@example.org'))?.status).toBe('unsubscribed');

    seen = h.sink.received.length;
    await signUp(client, { email: 'returner@example.org' });
    const mail = await nextMailTo(h.sink, 'returner@example.org', seen);
    expect(mail.parsed.subject).toMatch(/again/);
    expect((await findSubscriberByEmail(h.services.db, 'returner@example.org'))?.status).toBe('unsubscribed');
    expect((await confirmVia(client, linkIn(mail, '/confirm'))).res.status).toBe(200);
    const back = await findSubscriberByEmail(h.services.db, 'returner@example.org');
    expect(back?.status).toBe('active');
    expect(back?.topicSlugs).toEqual(['open-data']);
  });

  it('limits sign-ups per address and per IP', async () => {
    const fromIp = (ip: string) => ({ 'x-forwarded-for': ip });
    const post = async (ip: string, email: string) => {
      const client = new Client(h.base);
      const csrf = await client.csrfFrom('/subscribe');
      const body = new URLSearchParams({ _csrf: csrf, email });
      return client.request('/subscribe', { method: 'POST', body, headers: fromIp(ip) });
    };
    const seen = h.sink.received.length;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await post(`198.51.100.${i + 1}`, 'Bombed@example.org')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    await h.sink.waitFor(seen + 5);

    const perIp: number[] = [];
    for (let i = 0; i < 21; i++) perIp.push((await post('203.0.113.7', `bad-address-${i}`)).status);
    expect(perIp.slice(0, 20).every((s) => s === 400)).toBe(true);
    expect(perIp[20]).toBe(429);
  });
});
