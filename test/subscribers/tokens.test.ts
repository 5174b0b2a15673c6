import { describe, expect, it } from 'vitest';
import {
  createTokens,
  newSubscriberUid,
  signToken,
  subscriberLinks,
  verifyToken,
  CONFIRM_TOKEN_TTL_MS,
  confirmUrl,
} from '../../subscribers/tokens.js';

const SECRET = 'token-test-secret-0123456789abcdef';

describe('subscriber tokens', () => {
  it('verifies a token for its own purpose only, and returns the uid it carries', () => {
    const uid = newSubscriberUid();
    const token = signToken(SECRET, 'unsubscribe', uid);
    expect(verifyToken(SECRET, 'unsubscribe', token)).toEqual({
      ok: true,
      purpose: 'unsubscribe',
      uid,
      expiresAt: null,
    });
    expect(verifyToken(SECRET, 'manage', token)).toEqual({ ok: false, reason: 'wrong-purpose' });
    expect(verifyToken(SECRET, 'confirm', token)).toEqual({ ok: false, reason: 'wrong-purpose' });
  });

  it('refuses every single-character change, another secret, and garbage', () => {
    const uid = newSubscriberUid();
    const token = signToken(SECRET, 'manage', uid, new Date(Date.now() + 60_000));
    const alphabet = 'ABCabc019-_';
    for (let i = 0; i < token.length; i++) {
      if (token[i] === '.') continue;
      const replacement = [...alphabet].find((c) => c !== token[i]) as string;
      const changed = token.slice(0, i) + replacement + token.slice(i + 1);
      expect(verifyToken(SECRET, 'manage', changed).ok, `position ${i}`).toBe(false);
    }
    expect(verifyToken('another-secret-0123456789abcdef', 'manage', token)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    for (const garbage of ['', 'x', '1', 'm..0.', `${token}.extra`, token.replace(/\./g, '')]) {
      expect(verifyToken(SECRET, 'manage', garbage).ok).toBe(false);
    }
  });

  it('expires at the given time', () => {
    const uid = newSubscriberUid();
    const expiresAt = new Date('2030-01-01T00:00:00.000Z');
    const token = signToken(SECRET, 'confirm', uid, expiresAt);
    expect(verifyToken(SECRET, 'confirm', token, new Date('2029-12-31T23:59:59.999Z'))).toMatchObject({
      ok: true,
      expiresAt,
    });
    expect(verifyToken(SECRET, 'confirm', token, expiresAt)).toEqual({ ok: false, reason: 'expired' });
  });

  it('makes confirmation links valid for 7 days and mail links without expiry', () => {
    const uid = newSubscriberUid();
    const now = new Date('2025-03-01T12:00:00.000Z');
    const url = new URL(confirmUrl({ baseUrl: 'https://news.example.org/', secretKey: SECRET }, uid, now));
    expect(url.origin + url.pathname).toBe('https://news.example.org/confirm');
    const check = verifyToken(SECRET, 'confirm', url.searchParams.get('token') ?? '', now);
    expect(check).toMatchObject({ ok: true, uid, expiresAt: new Date(now.getTime() + CONFIRM_TOKEN_TTL_MS) });

    const links = subscriberLinks({ baseUrl: 'https://news.example.org', secretKey: SECRET }, uid);
    const manage = new URL(links.manageUrl);
    const unsubscribe = new URL(links.unsubscribeUrl);
    expect(manage.pathname).toBe('/preferences');
    expect(unsubscribe.pathname).toBe('/unsubscribe');
    expect(verifyToken(SECRET, 'manage', manage.searchParams.get('token') ?? '')).toMatchObject({
      ok: true,
      uid,
      expiresAt: null,
    });
    expect(verifyToken(SECRET, 'unsubscribe', unsubscribe.searchParams.get('token') ?? '')).toMatchObject({
      ok: true,
      uid,
    });
    // URL-safe as is: nothing to percent-encode.
    expect(encodeURIComponent(manage.searchParams.get('token') ?? '')).toBe(manage.searchParams.get('token'));
  });

  it('is deterministic per subscriber, distinct between subscribers, and carries no row id', () => {
    const signer = createTokens(SECRET);
    const a = newSubscriberUid();
    const b = newSubscriberUid();
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a).not.toBe(b);
    expect(signer.sign('unsubscribe', a)).toBe(signToken(SECRET, 'unsubscribe', a));
    expect(signer.sign('unsubscribe', a)).not.toBe(signer.sign('unsubscribe', b));
    expect(() => signer.sign('manage', '42')).toThrow(/Not a subscriber uid/);
  });
});
