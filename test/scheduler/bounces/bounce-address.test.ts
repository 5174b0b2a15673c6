import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../../src/app/services.js';
import { importFolder } from '../../../src/content/import.js';
import { DEMO_DIR } from '../../../src/content/demo.js';
import { BounceAddresses } from '../../../scheduler/bounces/bounce-address.js';
import { requireIssue } from '../../../scheduler/delivery-repository.js';
import { sendIssue } from '../../../scheduler/send-control.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { makeTempEnv, type TempEnv } from '../../helpers/temp-env.js';
import { insertSubscribers } from '../fixtures.js';

const SECRET = 'test-secret-key-0123456789abcdef0123456789abcdef';

describe('bounce addresses (VERP tokens)', () => {
  const addresses = new BounceAddresses(SECRET, 'Bounces.Example.org');

  it('round-trips issue and subscriber ids through a short lower-case token', () => {
    for (const ref of [
      { issueId: 1, subscriberId: 1 },
      { issueId: 0, subscriberId: 42 },
      { issueId: 4_000_000_000, subscriberId: 4_294_967_295 },
    ]) {
      const address = addresses.address(ref);
      expect(address).toMatch(/^bounces\+[a-z2-7]{26}@bounces\.example\.org$/);
      expect(addresses.parse(address)).toEqual(ref);
      // Mail systems may change the case of a local part, and add angle brackets.
      expect(addresses.parse(`<${address.toUpperCase()}>`)).toEqual(ref);
    }
  });

  it('reveals nothing: neighbouring deliveries share no visible part', () => {
    const a = addresses.token({ issueId: 7, subscriberId: 100 });
    const b = addresses.token({ issueId: 7, subscriberId: 101 });
    let shared = 0;
    while (shared < a.length && a[shared] === b[shared]) shared++;
    // Two 16-byte AES blocks that differ anywhere differ throughout; a common prefix of 0-2
    // characters happens by chance, 7 characters (the issue id) would not.
    expect(shared).toBeLessThan(4);
    expect(a).not.toContain((100).toString(36));
  });

  it('refuses forged, altered, foreign-key and foreign-domain addresses', () => {
    const address = addresses.address({ issueId: 3, subscriberId: 9 });
    const token = address.slice('bounces+'.length, address.indexOf('@'));
    const flipped = token.slice(0, 10) + (token[10] === 'a' ? 'b' : 'a') + token.slice(11);
    expect(addresses.parse(`bounces+${flipped}@bounces.example.org`)).toBeNull();
    expect(addresses.parse(`bounces+${'a'.repeat(26)}@bounces.example.org`)).toBeNull();
    expect(addresses.parse(`bounces+${token}@elsewhere.example.org`)).toBeNull();
    expect(addresses.parse(`postmaster@bounces.example.org`)).toBeNull();
    expect(addresses.parse(`bounces+${token}x@bounces.example.org`)).toBeNull();
    // The last character's two spare bits: another spelling of the same block is refused too.
    const last = 'abcdefghijklmnopqrstuvwxyz234567'.indexOf(token.at(-1) ?? 'a');
    const respelled = token.slice(0, -1) + ('abcdefghijklmnopqrstuvwxyz234567'[last ^ 1] ?? '');
    expect(addresses.parse(`bounces+${respelled}@bounces.example.org`)).toBeNull();
    const otherKey = new BounceAddresses(`${SECRET}-other`, 'bounces.example.org');
    expect(otherKey.parse(address)).toBeNull();
  });

  it('finds a token in the headers of a returned original', () => {
    const address = addresses.address({ issueId: 5, subscriberId: 6 });
    const headers = `Received: from x\r\nReturn-Path: <bounces+${'b'.repeat(26)}@bounces.example.org>\r\nReturn-Path: <${address}>\r\n`;
    expect(addresses.findIn(headers)).toEqual({ issueId: 5, subscriberId: 6 });
    expect(addresses.findIn('no token here')).toBeNull();
  });
});

describe('issue messages sent through SMTP carry the VERP return path', () => {
  let env: TempEnv;
  let services: Services;
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await startSmtpSink();
    env = makeTempEnv({
      SMTP_URL: sink.url,
      BOUNCE_DOMAIN: 'bounces.example.org',
      MAIL_FROM: 'News <news@example.org>',
    });
    services = await env.open();
    await importFolder(services.db, DEMO_DIR);
  });

  afterAll(async () => {
    await services?.close();
    await sink?.close();
    env?.cleanup();
  });

  it('uses bounces+<token>@BOUNCE_DOMAIN as MAIL FROM, naming each delivery', async () => {
    const ids = await insertSubscribers(services.db, [{ email: 'ann@example.net' }, { email: 'bob@example.net' }]);
    const report = await sendIssue(services, 'welcome');
    expect(report.outcome).toBe('finished');
    const issue = await requireIssue(services.db, 'welcome');
    const addresses = new BounceAddresses(env.config.secretKey, 'bounces.example.org');
    const mails = await sink.waitFor(2);
    expect(mails).toHaveLength(2);
    for (const mail of mails) {
      const to = mail.envelopeTo[0] ?? '';
      expect(mail.envelopeFrom).toMatch(/^bounces\+[a-z2-7]{26}@bounces\.example\.org$/);
      expect(addresses.parse(mail.envelopeFrom)).toEqual({ issueId: issue.id, subscriberId: ids.get(to) });
      // The visible sender is unchanged; the return path reveals no address or id.
      expect(mail.parsed.from?.value[0]?.address).toBe('news@example.org');
      expect(mail.envelopeFrom).not.toContain(to.split('@')[0]);
    }
  });
});
