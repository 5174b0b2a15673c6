import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-config-'));
const base = { DATA_DIR: dir, SECRET_KEY: 'test-secret-key-0123456789abcdef0123456789abcdef' };
const load = (extra: Record<string, string>) => loadConfig({ ...base, ...extra });

describe('bounce settings', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults: no bounce domain, receiver on loopback when a port is set, 3 soft bounces, 0.3 % / 5 % after 1,000', () => {
    expect(load({}).bounces).toMatchObject({
      domain: undefined,
      smtpPort: undefined,
      smtpHost: '127.0.0.1',
      imapProcessedFolder: 'Processed',
      softLimit: 3,
      pauseComplaintRate: 0.003,
      pauseHardBounceRate: 0.05,
      pauseAfterSent: 1000,
      sesTopicArns: [],
    });
  });

  it('reads rates as percentages or fractions, and topic lists', () => {
    const bounces = load({
      BOUNCE_DOMAIN: 'Bounces.Example.ORG',
      BOUNCE_SMTP_PORT: '2525',
      BOUNCE_PAUSE_COMPLAINT_RATE: '0.1%',
      BOUNCE_PAUSE_HARD_BOUNCE_RATE: '0.02',
      BOUNCE_PAUSE_AFTER: '500',
      SES_TOPIC_ARNS: 'arn:a, arn:b',
    }).bounces;
    expect(bounces).toMatchObject({
      domain: 'bounces.example.org',
      smtpPort: 2525,
      pauseComplaintRate: 0.001,
      pauseHardBounceRate: 0.02,
      pauseAfterSent: 500,
      sesTopicArns: ['arn:a', 'arn:b'],
    });
  });

  it('names the variable and what to fix', () => {
    expect(() => load({ BOUNCE_SMTP_PORT: '2525' })).toThrow(/BOUNCE_SMTP_PORT needs BOUNCE_DOMAIN/);
    expect(() => load({ BOUNCE_DOMAIN: 'not a domain' })).toThrow(/BOUNCE_DOMAIN must be a domain name/);
    expect(() => load({ BOUNCE_PAUSE_COMPLAINT_RATE: 'lots' })).toThrow(/BOUNCE_PAUSE_COMPLAINT_RATE must be a share/);
    expect(() => load({ BOUNCE_PAUSE_COMPLAINT_RATE: '150%' })).toThrow(/at most 100%/);
    expect(() => load({ BOUNCE_IMAP_URL: 'pop3://x' })).toThrow(/imaps:\/\/user:pass@host\/INBOX/);
    expect(() => load({ POSTMARK_WEBHOOK_AUTH: 'nocolon' })).toThrow(/user:password/);
    expect(() => load({ SENDGRID_WEBHOOK_PUBLIC_KEY: 'bm90IGEga2V5' })).toThrow(ConfigError);
  });

  it('takes SendGrid’s verification key as base64 DER or PEM', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const der = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(load({ SENDGRID_WEBHOOK_PUBLIC_KEY: der }).bounces.sendgridPublicKey).toBe(der);
    expect(load({ SENDGRID_WEBHOOK_PUBLIC_KEY: pem }).bounces.sendgridPublicKey).toBe(pem.trim());
  });
});
