import { describe, expect, it } from 'vitest';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { erasedAddressHash } from '../../subscribers/address.js';
import { eraseSubscriber, findSubscriberByEmail, type Subscriber } from '../../subscribers/subscriber-repository.js';
import { signToken, subscriberLinks } from '../../subscribers/tokens.js';
import { Client, mainOf, useHarness } from './web-harness.js';

const h = useHarness();

async function activeSubscriber(email: string): Promise<Subscriber> {
  await addSubscriber(h.services.db, h.services.config.secretKey, { email, topics: ['open-data'] }, { source: 'cli' });
  const s = await findSubscriberByEmail(h.services.db, email);
  if (!s) throw new Error('not created');
  return s;
}

/** The path of the List-Unsubscribe URL the sending pipeline puts in every mail. */
function unsubscribePathOf(uid: string): string {
  const url = new URL(subscriberLinks(h.services.config, uid).unsubscribeUrl);
  expect(url.origin).toBe(h.services.config.baseUrl);
  return url.pathname + url.search;
}

async function logOf(id: number) {
  return h.services.db.selectFrom('consent_log').selectAll().where('subscriber_id', '=', id).orderBy('id').execute();
}

describe('RFC 8058 one-click unsubscribe', () => {
  it('unsubscribes at once on a cookieless POST with List-Unsubscribe=One-Click, 200 and no redirect', async () => {
    const s = await activeSubscriber('one.click@example.org');
    const path = unsubscribePathOf(s.uid);
    // As a mail provider sends it: no cookie, no CSRF token, urlencoded body.
    const res = await fetch(h.base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Mail-Provider-Unsubscriber/1.0' },
      body: 'List-Unsubscribe=One-Click',
      redirect: 'manual',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('set-cookie')).toBeNull();
    // The answer names the address and links to the person's preferences page (a manage token).
    const answer = mainOf(await res.text());
    expect(answer).toContain('You are unsubscribed');
    expect(answer).toContain('one.click@example.org will receive no more issues');
    // Handlebars escapes the link's "=" as &#x3D;.
    const manage = (/href="(\/preferences[^"]+)"/.exec(answer)?.[1] ?? '').replaceAll('&#x3D;', '=');
    expect(manage).toMatch(/^\/preferences\?token=[\w.-]+$/);
    const preferences = await fetch(h.base + manage);
    expect(preferences.status).toBe(200);
    expect(mainOf(await preferences.text())).toContain('one.click@example.org');

    const after = await findSubscriberByEmail(h.services.db, 'one.click@example.org');
    expect(after?.status).toBe('unsubscribed');
    expect(after?.unsubscribedAt).not.toBeNull();
    const last = (await logOf(s.id)).at(-1);
    expect(last).toMatchObject({
      action: 'unsubscribe',
      source: 'one-click',
      ip: '127.0.0.1',
      user_agent: 'Mail-Provider-Unsubscriber/1.0',
    });
    expect(last?.detail).toContain('RFC 8058');

    // A repeated POST (providers retry) still answers 200 and logs nothing more.
    const again = await fetch(h.base + path, {
      method: 'POST',
      body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }),
      redirect: 'manual',
    });
    expect(again.status).toBe(200);
    expect((await logOf(s.id)).length).toBe(2);
  });

  it('answers 404 for an erased subscriber, and records nothing', async () => {
    const s = await activeSubscriber('erased@example.org');
    await eraseSubscriber(h.services.db, s.id, erasedAddressHash(h.services.config.secretKey, s.email));
    const res = await fetch(h.base + unsubscribePathOf(s.uid), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(res.status).toBe(404);
    expect(mainOf(await res.text())).toContain('We hold no subscription for this link');
    expect(await logOf(s.id)).toEqual([]);
    const recorded = await h.services.db.selectFrom('unsubscribe_requests').selectAll().execute();
    expect(recorded.filter((r) => r.subscriber_uid === s.uid)).toEqual([]);
  });

  it('accepts the multipart/form-data body RFC 8058 recommends', async () => {
    const s = await activeSubscriber('multipart@example.org');
    const form = new FormData();
    form.set('List-Unsubscribe', 'One-Click');
    const res = await fetch(h.base + unsubscribePathOf(s.uid), { method: 'POST', body: form, redirect: 'manual' });
    expect(res.status).toBe(200);
    expect((await findSubscriberByEmail(h.services.db, 'multipart@example.org'))?.status).toBe('unsubscribed');
    expect((await logOf(s.id)).at(-1)?.detail).toContain('RFC 8058');
  });

  it('GET shows one button and changes nothing; the button unsubscribes', async () => {
    const s = await activeSubscriber('button@example.org');
    const client = new Client(h.base);
    const path = unsubscribePathOf(s.uid);
    const { res, html } = await client.get(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const main = mainOf(html);
    expect(main.match(/<button/g)?.length).toBe(1);
    expect(main).toContain('button@example.org');
    expect((await findSubscriberByEmail(h.services.db, 'button@example.org'))?.status).toBe('active');

    const action = /<form method="post" action="([^"]+)"/.exec(main)?.[1]?.replaceAll('&#x3D;', '=');
    expect(action).toBe(path);
    const fields = Object.fromEntries(
      [...main.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    const posted = await client.post(path, fields as Record<string, string>);
    expect(posted.res.status).toBe(200);
    expect((await findSubscriberByEmail(h.services.db, 'button@example.org'))?.status).toBe('unsubscribed');
    expect((await logOf(s.id)).at(-1)).toMatchObject({
      action: 'unsubscribe',
      source: 'unsubscribe-page',
      detail: 'unsubscribe page button',
    });
  });

  it('refuses tampered, wrong-purpose and foreign tokens with a 4xx page and changes nothing', async () => {
    const s = await activeSubscriber('kept@example.org');
    const secret = h.services.config.secretKey;
    const good = signToken(secret, 'unsubscribe', s.uid);
    const flip = (t: string) => t.slice(0, -2) + (t.at(-2) === 'x' ? 'y' : 'x') + t.at(-1);
    for (const token of [
      flip(good),
      signToken(secret, 'manage', s.uid),
      signToken(secret, 'confirm', s.uid, new Date(Date.now() + 60_000)),
      signToken('some-other-installation-secret-key', 'unsubscribe', s.uid),
      String(s.id),
      '',
    ]) {
      const res = await fetch(`${h.base}/unsubscribe?token=${encodeURIComponent(token)}`, {
        method: 'POST',
        body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }),
        redirect: 'manual',
      });
      expect(res.status, token).toBeGreaterThanOrEqual(400);
      expect(res.status, token).toBeLessThan(500);
      expect(mainOf(await res.text())).toContain('Nothing has been changed');
    }
    expect((await findSubscriberByEmail(h.services.db, 'kept@example.org'))?.status).toBe('active');
    expect((await logOf(s.id)).length).toBe(1);
  });
});
