import { describe, expect, it } from 'vitest';
import { createTrackingTokens, MAX_TRACKING_TOKEN_LENGTH } from '../../src/tracking/click-token.js';

const tokens = createTrackingTokens('test-secret-key-0123456789abcdef');
const sentAt = new Date('2026-11-26T10:00:07Z');

describe('tracked link tokens', () => {
  it('round-trips a link and a tag, and stays short', () => {
    const link = tokens.linkToken({ kind: 'link', linkId: 1234 });
    const tag = tokens.tag(7, { sentAt, subscriberId: 98_765, test: false });
    expect(`${link}.${tag}`.length).toBeLessThanOrEqual(MAX_TRACKING_TOKEN_LENGTH);
    const check = tokens.verifyLink(`${link}.${tag}`);
    expect(check).toMatchObject({ ok: true, link: { kind: 'link', linkId: 1234 }, tagText: tag });
    if (!check.ok || !check.tag) throw new Error('not ok');
    expect(tokens.verifyTag(7, check.tag)).toEqual({ sentAt, subscriberId: 98_765, test: false });
  });

  it('fits the largest ids and times the size budget allows for', () => {
    const link = tokens.linkToken({ kind: 'open', linkId: 2 ** 28 - 1 });
    const tag = tokens.tag(2 ** 28 - 1, {
      sentAt: new Date('3099-12-31T23:59:59Z'),
      subscriberId: 2 ** 28 - 1,
      test: true,
    });
    expect(`${link}.${tag}`.length).toBeLessThanOrEqual(MAX_TRACKING_TOKEN_LENGTH);
  });

  it('refuses any change: a flipped character, a tag moved to another issue, another key', () => {
    const link = tokens.linkToken({ kind: 'link', linkId: 5 });
    const tag = tokens.tag(3, { sentAt, subscriberId: null, test: false });
    for (let i = 0; i < link.length; i++) {
      const c = link[i] === 'A' ? 'B' : 'A';
      const changed = link.slice(0, i) + c + link.slice(i + 1);
      expect(tokens.verifyLink(`${changed}.${tag}`).ok, changed).toBe(false);
    }
    const check = tokens.verifyLink(`${link}.${tag}`);
    if (!check.ok || !check.tag) throw new Error('not ok');
    expect(tokens.verifyTag(4, check.tag)).toBeNull();
    const flipped = Buffer.from(check.tag);
    flipped[1] = (flipped[1] ?? 0) ^ 1;
    expect(tokens.verifyTag(3, flipped)).toBeNull();
    expect(createTrackingTokens('another-secret-key-0123456789abc').verifyLink(`${link}.${tag}`)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('calls malformed input malformed, never a crash', () => {
    for (const bad of [
      '',
      '.',
      'abc',
      'a.b.c.d',
      '%%%%%%%%%%.x',
      'A'.repeat(60),
      `${'A'.repeat(16)}.${'B'.repeat(80)}`,
    ]) {
      expect(tokens.verifyLink(bad).ok, bad).toBe(false);
    }
    expect(tokens.verifyTag(1, Buffer.alloc(3))).toBeNull();
  });
});
