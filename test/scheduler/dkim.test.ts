import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { sendIssue } from '../../scheduler/send-control.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { insertSubscribers } from './fixtures.js';
import { rawHeader } from './mail.js';
import { importLongIssue } from '../fixtures/long-issue.js';

const SELECTOR = 'nl2026';
const DOMAIN = 'example.org';

/** A DKIM key made for this run, and an offline resolver that serves its TXT record. */
function makeDkimKey(dir: string): { keyFile: string; resolver: (name: string, type: string) => Promise<string[][]> } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = path.join(dir, 'dkim.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const txt = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  const resolver = (name: string, type: string): Promise<string[][]> => {
    if (type === 'TXT' && name === `${SELECTOR}._domainkey.${DOMAIN}`) return Promise.resolve([[txt]]);
    return Promise.reject(Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' }));
  };
  return { keyFile, resolver };
}

function signedHeaders(raw: Buffer): string[] {
  const signature = rawHeader(raw, 'DKIM-Signature') ?? '';
  const h = /(?:^|;)\s*h=([^;]+)/.exec(signature)?.[1] ?? '';
  return h
    .replace(/\s+/g, '')
    .toLowerCase()
    .split(':')
    .filter((x) => x !== '');
}

const REQUIRED = [
  'from',
  'to',
  'subject',
  'date',
  'message-id',
  'list-id',
  'list-unsubscribe',
  'list-unsubscribe-post',
];

async function sendOneSigned(
  extraEnv: Record<string, string>,
): Promise<{ env: TempEnv; services: Services; resolver: (n: string, t: string) => Promise<string[][]> }> {
  const keyDir = makeTempEnv();
  const { keyFile, resolver } = makeDkimKey(keyDir.dir);
  const env = makeTempEnv({
    MAIL_FROM: `Newsletter <news@${DOMAIN}>`,
    DKIM_DOMAIN: DOMAIN,
    DKIM_SELECTOR: SELECTOR,
    DKIM_PRIVATE_KEY_FILE: keyFile,
    ...extraEnv,
  });
  const services = await env.open();
  const slug = await importLongIssue(services);
  await insertSubscribers(services.db, [
    { email: 'reader@example.net', name: 'Zoë Reader', topics: ['shared-ledgers'] },
  ]);
  const report = await sendIssue(services, slug);
  expect(report.outcome).toBe('finished');
  keyDir.cleanup();
  return { env, services, resolver };
}

describe('DKIM signing', () => {
  let sink: SmtpSink;
  let smtp: Awaited<ReturnType<typeof sendOneSigned>>;
  let outbox: Awaited<ReturnType<typeof sendOneSigned>>;

  beforeAll(async () => {
    sink = await startSmtpSink();
    smtp = await sendOneSigned({ SMTP_URL: sink.url });
    outbox = await sendOneSigned({});
  });

  afterAll(async () => {
    for (const run of [smtp, outbox]) {
      await run?.services.close();
      run?.env.cleanup();
    }
    await sink?.close();
  });

  it('signs mail sent over SMTP so that mailauth verifies it, covering both List headers', async () => {
    const mail = sink.received[0];
    expect(mail).toBeDefined();
    const raw = mail?.raw ?? Buffer.alloc(0);
    const result = await dkimVerify(raw, { resolver: smtp.resolver });
    const signature = result.results[0];
    expect(signature?.status.result, signature?.status.comment).toBe('pass');
    expect(signature?.signingDomain).toBe(DOMAIN);
    expect(signature?.selector).toBe(SELECTOR);
    expect(signedHeaders(raw)).toEqual(expect.arrayContaining(REQUIRED));
  });

  it('fails verification when a signed List header is changed in transit', async () => {
    const raw = (sink.received[0]?.raw ?? Buffer.alloc(0)).toString('utf8');
    const tampered = raw.replace(
      /List-Unsubscribe-Post: List-Unsubscribe=One-Click/,
      'List-Unsubscribe-Post: List-Unsubscribe=Other',
    );
    expect(tampered).not.toBe(raw);
    const result = await dkimVerify(Buffer.from(tampered), { resolver: smtp.resolver });
    expect(result.results[0]?.status.result).toBe('fail');
  });

  it('signs the .eml files of the outbox too (no SMTP_URL), which are real RFC 5322 messages', async () => {
    const dir = outbox.services.config.outboxDir;
    const files = readdirSync(dir).filter((f) => f.endsWith('.eml'));
    expect(files).toHaveLength(1);
    const raw = readFileSync(path.join(dir, files[0] ?? ''));
    const parsed = await simpleParser(raw);
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value[0]?.address : '').toBe('reader@example.net');
    expect(parsed.html).toBeTruthy();
    expect(parsed.text).toBeTruthy();
    const result = await dkimVerify(raw, { resolver: outbox.resolver });
    expect(result.results[0]?.status.result, result.results[0]?.status.comment).toBe('pass');
    expect(signedHeaders(raw)).toEqual(expect.arrayContaining(REQUIRED));
  });
});
