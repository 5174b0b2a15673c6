import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMailFrom } from '../../src/config/mail-from.js';
import { ROOT } from '../helpers/child-server.js';
import { makeTempEnv } from '../helpers/temp-env.js';

describe('parseMailFrom', () => {
  it('takes one RFC 5322 mailbox and gives it back in a canonical form', () => {
    expect(parseMailFrom('Newsletter <newsletter@localhost>')).toEqual({
      value: '"Newsletter" <newsletter@localhost>',
    });
    expect(parseMailFrom('news@example.org')).toEqual({ value: 'news@example.org' });
    expect(parseMailFrom('"Acme, \\"Inc\\"" <news@acme.example>')).toEqual({
      value: '"Acme, \\"Inc\\"" <news@acme.example>',
    });
    expect(parseMailFrom('标准 Newsletter <news@例子.测试>')).toEqual({
      value: '"标准 Newsletter" <news@xn--fsqu00a.xn--0zwm56d>',
    });
  });

  it('refuses what is not one address with a usable domain, saying why', () => {
    const problem = (input: string) => {
      const result = parseMailFrom(input);
      return 'problem' in result ? result.problem : `accepted as ${result.value}`;
    };
    expect(problem('not an address')).toBe(
      '"not an address" is not one email address; use e.g. "Newsletter <news@example.org>" or news@example.org',
    );
    expect(problem('news@exa mple.org')).toMatch(/is not one email address/);
    expect(problem('News <news@[192.0.2.1]>')).toMatch(/"\[192\.0\.2\.1\]" is not a valid domain/);
    expect(problem('news@-bad-.example')).toMatch(/"-bad-\.example" is not a valid domain/);
    expect(problem('a@b.example, c@d.example')).toMatch(/is not one email address/);
    expect(problem('News\r\nBcc: x@evil.example <news@example.org>')).toMatch(/is not one email address/);
    expect(problem('"a b"@example.org')).toMatch(/before the @ must be plain ASCII/);
  });
});

describe('the service refuses to start with a bad MAIL_FROM, naming the variable', () => {
  for (const [mailFrom, reason] of [
    ['not an address', '"not an address" is not one email address'],
    ['News <news@exa mple.org>', 'is not one email address'],
  ]) {
    it(`MAIL_FROM=${mailFrom}`, () => {
      const env = makeTempEnv();
      try {
        const serve = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'newsletter.js'), 'serve'], {
          env: { ...env.env, MAIL_FROM: mailFrom, PORT: '0' },
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect(serve.status).toBe(1);
        expect(serve.stderr).toContain('Error: Invalid configuration:\n  MAIL_FROM: ');
        expect(serve.stderr).toContain(reason);
        expect(serve.stdout).not.toContain('Serving on');
      } finally {
        env.cleanup();
      }
    });
  }
});
