import libmime from 'libmime';
import { describe, expect, it } from 'vitest';
import { mailFromDomain, MessageBuilder } from '../../scheduler/message-builder.js';

const config = { baseUrl: 'http://localhost:3999', secretKey: 'k'.repeat(40) };

describe('mailFromDomain', () => {
  it('reads the domain of MAIL_FROM in every form, lower-cased, and falls back to localhost', () => {
    expect(mailFromDomain('Newsletter <newsletter@localhost>')).toBe('localhost');
    expect(mailFromDomain('news@Example.ORG')).toBe('example.org');
    expect(mailFromDomain('"Zoë, the editors" <news@lists.example.org>')).toBe('lists.example.org');
    expect(mailFromDomain('not an address')).toBe('localhost');
  });
});

describe('List-Id', () => {
  it('quotes an ASCII name and MIME-encodes any other as one word', () => {
    const ascii = new MessageBuilder({
      config: { ...config, mailFrom: 'n@example.org' },
      publicationName: 'City News',
    });
    expect(ascii.listId).toBe('"City News" <city-news.example.org>');
    const chinese = new MessageBuilder({
      config: { ...config, mailFrom: 'n@example.org' },
      publicationName: '城市 Newsletter "x"',
    });
    const [word, id] = chinese.listId.split(' ');
    expect(word).toMatch(/^=\?UTF-8\?Q\?[^\s?]+\?=$/);
    expect(libmime.decodeWords(word ?? '')).toBe('城市 Newsletter x');
    expect(id).toBe('<newsletter-x.example.org>');
  });
});
