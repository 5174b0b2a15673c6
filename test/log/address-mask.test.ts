import { describe, expect, it } from 'vitest';
import { maskAddresses, maskDeep } from '../../src/log/address-mask.js';

describe('maskAddresses', () => {
  it('masks every address in a text, keeping the first character and the domain', () => {
    expect(maskAddresses('550 5.1.1 <ann.smith@example.org>: Recipient address rejected')).toBe(
      '550 5.1.1 <a***@example.org>: Recipient address rejected',
    );
    expect(maskAddresses('to bob+news@mail.example.co.uk, "Zoë" <zoë@exämple.de>')).toBe(
      'to b***@mail.example.co.uk, "Zoë" <z***@exämple.de>',
    );
    expect(maskAddresses('no address here: 5.1.1 user@ unknown')).toBe('no address here: 5.1.1 user@ unknown');
  });

  it('leaves a long run of address characters without an address as it is', () => {
    // The pattern's repeats are bounded, so this is linear work (an unbounded one is quadratic here).
    const long = 'a'.repeat(200_000) + '@';
    expect(maskAddresses(long)).toBe(long);
  });
});

describe('maskDeep', () => {
  it('masks nested fields and errors, and leaves Message-IDs and other values alone', () => {
    const error = Object.assign(new Error("Can't send mail - all recipients were rejected: 550 <cy@example.org>"), {
      response: '550 5.1.1 <cy@example.org> User unknown',
    });
    const masked = maskDeep({
      reply: '450 4.2.0 <dee@example.net>: Greylisted',
      nested: { list: ['eve@example.org', 7, null, true] },
      messageId: '<1a2b.3c@news.example.org>',
      err: error,
    }) as Record<string, unknown>;
    expect(masked.reply).toBe('450 4.2.0 <d***@example.net>: Greylisted');
    expect(masked.nested).toEqual({ list: ['e***@example.org', 7, null, true] });
    expect(masked.messageId).toBe('<1a2b.3c@news.example.org>');
    expect(masked.err).toMatchObject({
      type: 'Error',
      message: "Can't send mail - all recipients were rejected: 550 <c***@example.org>",
      response: '550 5.1.1 <c***@example.org> User unknown',
    });
    expect(JSON.stringify(masked)).not.toMatch(/cy@|dee@|eve@/);
  });
});
