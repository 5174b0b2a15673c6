import { simpleParser } from 'mailparser';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { encodeEdition } from '../../scheduler/encoded-edition.js';
import { decodeQuotedPrintable } from '../../src/mail/quoted-printable.js';
import { MessageBuilder } from '../../scheduler/message-builder.js';
import { createMessenger } from '../../src/mail/messenger.js';
import { rawHeader } from './mail.js';
import { subscriberLinks } from '../../subscribers/tokens.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { importLongIssue } from '../fixtures/long-issue.js';

const FIELDS = {
  name: 'Zoë "Z" <script>alert(1)</script> & Ünal',
  email: 'zoe+news@example.org',
  webUrl: 'http://localhost:3999/issues/riverside-2031-spring?topics=shared-ledgers',
  manageUrl: 'http://localhost:3999/preferences?token=m.AAAAAAAAAAAAAAAAAAAAAA.0.BBBBBBBBBBBBBBBBBBBBBB',
  unsubscribeUrl: 'http://localhost:3999/unsubscribe?token=u.AAAAAAAAAAAAAAAAAAAAAA.0.BBBBBBBBBBBBBBBBBBBBBB',
};

describe('editions encoded once per send', () => {
  let env: TempEnv;
  let services: Services;
  let slug: string;

  beforeAll(async () => {
    env = makeTempEnv();
    services = await env.open();
    slug = await importLongIssue(services);
  });
  afterAll(async () => {
    await services?.close();
    env?.cleanup();
  });

  it('gives, for any fields, exactly what the renderer’s fill gives, in lines of at most 76', async () => {
    for (const topics of [null, ['shared-ledgers'], ['annex', 'privacy-security']]) {
      const edition = await services.renderer.edition(slug, topics);
      const encoded = encodeEdition(edition);
      expect(encoded).not.toBeNull();
      for (const fields of [FIELDS, { ...FIELDS, name: '' }]) {
        const direct = edition.fill(fields);
        const pieces = encoded?.fill(fields);
        const html = Buffer.concat(pieces?.html.quotedPrintable ?? []).toString('latin1');
        const text = Buffer.concat(pieces?.text.quotedPrintable ?? []).toString('latin1');
        expect(decodeQuotedPrintable(html)).toBe(direct.html.replace(/\r?\n/g, '\r\n'));
        expect(decodeQuotedPrintable(text)).toBe(direct.text.replace(/\r?\n/g, '\r\n'));
        for (const line of `${html}\r\n${text}`.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
      }
    }
  });

  it('builds messages that a mail parser reads back as the filled edition', async () => {
    const edition = await services.renderer.edition(slug, ['shared-ledgers']);
    const builder = new MessageBuilder({ config: services.config, publicationName: 'News' });
    const message = builder.build(edition, {
      id: 1,
      uid: 'AAAAAAAAAAAAAAAAAAAAAA',
      email: FIELDS.email,
      name: FIELDS.name,
    });
    expect(typeof message.html).toBe('object');
    // Through the real messenger (the outbox: no SMTP_URL in this environment).
    const messenger = createMessenger(services.config);
    const result = await messenger.send(message);
    messenger.close();
    const raw = readFileSync(result.response.replace(/^written to /, ''));
    expect(rawHeader(raw, 'Content-Type')).toMatch(/^multipart\/alternative/);
    const parsed = await simpleParser(raw);
    // The same fields the builder used: the subscriber's own signed links.
    const direct = edition.fill({
      name: FIELDS.name,
      email: FIELDS.email,
      webUrl: edition.webUrl,
      ...subscriberLinks(services.config, 'AAAAAAAAAAAAAAAAAAAAAA'),
    });
    expect(String(parsed.html).replace(/\r\n/g, '\n')).toBe(direct.html.replace(/\r\n/g, '\n'));
    expect((parsed.text ?? '').replace(/\r\n/g, '\n').trimEnd()).toBe(direct.text.replace(/\r\n/g, '\n').trimEnd());
    expect(String(parsed.html)).not.toContain('<script>alert(1)');
  });
});
