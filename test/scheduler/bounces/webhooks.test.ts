import { execFileSync } from 'node:child_process';
import { createHmac, createSign, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnsVerifier } from '../../../scheduler/bounces/webhooks/sns-verifier.js';
import { createWebApp } from '../../../src/web/server.js';
import { feedbackRows, sendDemoIssue, subscriberState, type SentIssue } from './bounce-harness.js';

const MAILGUN_KEY = 'key-mailgun-signing-0123456789';
const POSTMARK_AUTH = 'postmark-hook:a-long-random-password';
const ADDRESSES = [
  'ses-hard@example.net',
  'ses-complaint@example.net',
  'mg-hard@example.net',
  'mg-soft@example.net',
  'pm-hard@example.net',
  'pm-spam@example.net',
  'sg-bounce@example.net',
  'sg-spam@example.net',
  'bystander@example.net',
];

/** A signing certificate for SNS, made with openssl, served over HTTPS on loopback. */
interface FakeSnsHost {
  certUrl: string;
  confirmUrl: string;
  confirmations: string[];
  key: string;
  cert: string;
  close(): Promise<void>;
}

async function startSnsHost(): Promise<FakeSnsHost> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-sns-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' }); // prettier-ignore
  const key = readFileSync(keyFile, 'utf8');
  const cert = readFileSync(certFile, 'utf8');
  rmSync(dir, { recursive: true, force: true });
  const confirmations: string[] = [];
  const server = https.createServer({ key, cert }, (req, res) => {
    if (req.url === '/SimpleNotificationService-test.pem') {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(cert);
    } else if (req.url?.startsWith('/confirm')) {
      confirmations.push(req.url);
      res.writeHead(200, { 'content-type': 'text/xml' }).end('<ConfirmSubscriptionResponse/>');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    certUrl: `https://127.0.0.1:${port}/SimpleNotificationService-test.pem`,
    confirmUrl: `https://127.0.0.1:${port}/confirm?Action=ConfirmSubscription&Token=abc`,
    confirmations,
    key,
    cert,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:ses-feedback';

function snsMessage(
  host: FakeSnsHost,
  type: 'Notification' | 'SubscriptionConfirmation',
  fields: { MessageId: string; Message: string; SubscribeURL?: string; Token?: string },
) {
  const message: Record<string, string> = {
    Type: type,
    TopicArn: TOPIC,
    Timestamp: new Date().toISOString(),
    SignatureVersion: '2',
    SigningCertURL: host.certUrl,
    ...fields,
  };
  const order =
    type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const signer = createSign('RSA-SHA256');
  for (const name of order) if (message[name] !== undefined) signer.update(`${name}\n${message[name]}\n`);
  message.Signature = signer.sign(host.key, 'base64');
  return message;
}

describe('provider webhooks at /webhooks/<provider>', () => {
  let sent: SentIssue;
  let sns: FakeSnsHost;
  let server: Server;
  let base: string;
  const sendgridKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

  const post = (provider: string, body: string | object, headers: Record<string, string> = {}) =>
    fetch(`${base}/webhooks/${provider}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const verp = (email: string) => sent.mails.get(email)?.envelopeFrom ?? '';
  const messageIdOf = (email: string) => sent.mails.get(email)?.parsed.messageId ?? '';

  beforeAll(async () => {
    sns = await startSnsHost();
    sent = await sendDemoIssue(ADDRESSES, {
      MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY,
      POSTMARK_WEBHOOK_AUTH: POSTMARK_AUTH,
      SENDGRID_WEBHOOK_PUBLIC_KEY: sendgridKeys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    });
    const app = createWebApp(sent.services, {
      webhooks: { sns: { certificateHost: /^127\.0\.0\.1$/, agent: new https.Agent({ ca: sns.cert }) } },
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await sent?.close();
    await sns?.close();
  });

  describe('Amazon SES through SNS', () => {
    const bounce = (email: string) =>
      JSON.stringify({
        notificationType: 'Bounce',
        bounce: {
          bounceType: 'Permanent',
          bounceSubType: 'General',
          bouncedRecipients: [
            { emailAddress: email, action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' },
          ],
          feedbackId: '0100017-feedback',
        },
        mail: { source: verp(email), messageId: '0100017-ses', commonHeaders: { messageId: messageIdOf(email) } },
      });

    it('only takes signing certificates and subscription URLs from SNS hosts in the service', () => {
      const verifier = new SnsVerifier();
      expect(verifier.allowedUrl('https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123.pem', true)).toBe(
        true,
      );
      expect(
        verifier.allowedUrl('https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-0123.pem', true),
      ).toBe(true);
      expect(verifier.allowedUrl('http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123.pem', true)).toBe(
        false,
      );
      expect(verifier.allowedUrl('https://sns.eu-west-1.amazonaws.com.evil.example/x.pem', true)).toBe(false);
      expect(verifier.allowedUrl('https://127.0.0.1/SimpleNotificationService-0123.pem', true)).toBe(false);
      expect(verifier.allowedUrl('https://sns.eu-west-1.amazonaws.com/cert.txt', true)).toBe(false);
    });

    it('confirms a subscription by visiting its SubscribeURL', async () => {
      const message = snsMessage(sns, 'SubscriptionConfirmation', {
        MessageId: 'sub-1',
        Message: 'You have chosen to subscribe to the topic',
        SubscribeURL: sns.confirmUrl,
        Token: 'abc',
      });
      const res = await post('ses', message, { 'content-type': 'text/plain; charset=UTF-8' });
      expect(res.status).toBe(200);
      expect(sns.confirmations).toEqual(['/confirm?Action=ConfirmSubscription&Token=abc']);
    });

    it('answers 401 to a bad signature or a certificate off the allowed hosts, and changes nothing', async () => {
      const good = snsMessage(sns, 'Notification', { MessageId: 'ses-1', Message: bounce('ses-hard@example.net') });
      const tampered = { ...good, Message: bounce('bystander@example.net') };
      const res = await post('ses', tampered);
      expect(res.status).toBe(401);
      expect(await res.text()).toContain('signature');
      const offHost = { ...good, SigningCertURL: 'https://sns.eu-west-1.amazonaws.com.evil.example/x.pem' };
      expect((await post('ses', offHost)).status).toBe(401);
      expect((await subscriberState(sent.services, 'bystander@example.net')).status).toBe('active');
      expect((await subscriberState(sent.services, 'ses-hard@example.net')).status).toBe('active');
      expect(await feedbackRows(sent.services)).toEqual([]);
    });

    it('a permanent bounce bounces the subscriber; the replayed notification applies once', async () => {
      const message = snsMessage(sns, 'Notification', { MessageId: 'ses-2', Message: bounce('ses-hard@example.net') });
      const first = await post('ses', message, { 'content-type': 'text/plain; charset=UTF-8' });
      expect(await first.json()).toEqual({ events: 1, applied: 1, duplicates: 0 });
      const state = await subscriberState(sent.services, 'ses-hard@example.net');
      expect(state.status).toBe('bounced');
      expect(JSON.parse(state.log.at(-1)?.detail ?? '{}')).toMatchObject({
        via: 'ses',
        status: '5.1.1',
        issue: sent.slug,
      });
      const again = await post('ses', message);
      expect(await again.json()).toEqual({ events: 1, applied: 0, duplicates: 1 });
      expect((await subscriberState(sent.services, 'ses-hard@example.net')).log).toHaveLength(state.log.length);
    });

    it('a complaint unsubscribes', async () => {
      const complaint = JSON.stringify({
        eventType: 'Complaint',
        complaint: {
          complainedRecipients: [{ emailAddress: 'ses-complaint@example.net' }],
          complaintFeedbackType: 'abuse',
        },
        mail: { source: verp('ses-complaint@example.net') },
      });
      const res = await post('ses', snsMessage(sns, 'Notification', { MessageId: 'ses-3', Message: complaint }));
      expect(res.status).toBe(200);
      const state = await subscriberState(sent.services, 'ses-complaint@example.net');
      expect(state.status).toBe('complained');
      expect(state.log.at(-1)).toMatchObject({ action: 'complaint', source: 'complaint' });
    });
  });

  describe('Mailgun', () => {
    const signed = (eventData: object, timestamp = Math.floor(Date.now() / 1000), key = MAILGUN_KEY) => {
      const token = `token-${Math.random().toString(36).slice(2)}`;
      const signature = createHmac('sha256', key).update(`${timestamp}${token}`).digest('hex');
      return { signature: { timestamp: String(timestamp), token, signature }, 'event-data': eventData };
    };
    const failed = (id: string, email: string, severity: string) => ({
      id,
      event: 'failed',
      severity,
      recipient: email,
      envelope: { sender: verp(email) },
      'delivery-status': {
        code: severity === 'permanent' ? 550 : 452,
        message: 'mailbox problem',
        'enhanced-code': severity === 'permanent' ? '5.1.1' : '4.2.2',
      },
    });

    it('answers 401 to a wrong signature and to an old timestamp, and changes nothing', async () => {
      expect(
        (await post('mailgun', signed(failed('mg-0', 'bystander@example.net', 'permanent'), undefined, 'wrong-key')))
          .status,
      ).toBe(401);
      const old = Math.floor(Date.now() / 1000) - 10 * 60;
      const res = await post('mailgun', signed(failed('mg-0', 'bystander@example.net', 'permanent'), old));
      expect(res.status).toBe(401);
      expect(await res.text()).toContain('too old');
      expect((await subscriberState(sent.services, 'bystander@example.net')).status).toBe('active');
    });

    it('a permanent failure bounces, a temporary one is counted, a replayed event applies once', async () => {
      expect((await post('mailgun', signed(failed('mg-1', 'mg-hard@example.net', 'permanent')))).status).toBe(200);
      expect((await subscriberState(sent.services, 'mg-hard@example.net')).status).toBe('bounced');
      await post('mailgun', signed(failed('mg-2', 'mg-soft@example.net', 'temporary')));
      expect((await subscriberState(sent.services, 'mg-soft@example.net')).status).toBe('active');
      const replay = await post('mailgun', signed(failed('mg-2', 'mg-soft@example.net', 'temporary')));
      expect(await replay.json()).toEqual({ events: 1, applied: 0, duplicates: 1 });
      const soft = (await feedbackRows(sent.services)).filter((r) => r.source === 'mailgun' && r.kind === 'soft');
      expect(soft).toHaveLength(1);
    });
  });

  describe('Postmark', () => {
    const basic = (credentials: string) => ({ authorization: `Basic ${Buffer.from(credentials).toString('base64')}` });

    it('answers 401 without the Basic credentials, and changes nothing', async () => {
      const event = { RecordType: 'Bounce', ID: 1, Type: 'HardBounce', Email: 'bystander@example.net', Inactive: true };
      expect((await post('postmark', event)).status).toBe(401);
      expect((await post('postmark', event, basic('postmark-hook:wrong'))).status).toBe(401);
      expect((await subscriberState(sent.services, 'bystander@example.net')).status).toBe('active');
    });

    it('a hard bounce bounces and a spam complaint unsubscribes', async () => {
      const hard = {
        RecordType: 'Bounce',
        ID: 42,
        Type: 'HardBounce',
        Email: 'pm-hard@example.net',
        Details: 'smtp;550 5.1.1 unknown',
        Inactive: true,
      };
      expect((await post('postmark', hard, basic(POSTMARK_AUTH))).status).toBe(200);
      expect((await subscriberState(sent.services, 'pm-hard@example.net')).status).toBe('bounced');
      const spam = { RecordType: 'SpamComplaint', ID: 43, Type: 'SpamComplaint', Email: 'pm-spam@example.net' };
      expect((await post('postmark', spam, basic(POSTMARK_AUTH))).status).toBe(200);
      expect((await subscriberState(sent.services, 'pm-spam@example.net')).status).toBe('complained');
    });
  });

  describe('SendGrid', () => {
    const signedHeaders = (body: string, timestamp = String(Math.floor(Date.now() / 1000))) => ({
      'x-twilio-email-event-webhook-timestamp': timestamp,
      'x-twilio-email-event-webhook-signature': sign(
        'sha256',
        Buffer.from(timestamp + body),
        sendgridKeys.privateKey,
      ).toString('base64'),
    });

    it('answers 401 to a body that is not the one signed, and changes nothing', async () => {
      const body = JSON.stringify([
        { email: 'bystander@example.net', event: 'bounce', type: 'bounce', sg_event_id: 'sg-0', status: '5.1.1' },
      ]);
      const headers = signedHeaders(body);
      expect((await post('sendgrid', body.replace('5.1.1', '5.1.2'), headers)).status).toBe(401);
      expect((await post('sendgrid', body)).status).toBe(401);
      expect((await subscriberState(sent.services, 'bystander@example.net')).status).toBe('active');
    });

    it('a bounce bounces, a spam report unsubscribes, each event applies once', async () => {
      const body = JSON.stringify([
        {
          email: 'sg-bounce@example.net',
          event: 'bounce',
          type: 'bounce',
          sg_event_id: 'sg-1',
          status: '5.1.1',
          reason: '550 5.1.1 unknown',
          'smtp-id': messageIdOf('sg-bounce@example.net'),
        },
        { email: 'sg-spam@example.net', event: 'spamreport', sg_event_id: 'sg-2' },
        { email: 'sg-spam@example.net', event: 'open', sg_event_id: 'sg-3' },
      ]);
      const first = await post('sendgrid', body, signedHeaders(body));
      expect(await first.json()).toEqual({ events: 2, applied: 2, duplicates: 0 });
      expect((await subscriberState(sent.services, 'sg-bounce@example.net')).status).toBe('bounced');
      expect((await subscriberState(sent.services, 'sg-spam@example.net')).status).toBe('complained');
      const again = await post('sendgrid', body, signedHeaders(body));
      expect(await again.json()).toEqual({ events: 2, applied: 0, duplicates: 2 });
      // The bounce was matched to its issue by the original's Message-ID.
      const row = (await feedbackRows(sent.services)).find((r) => r.event_key === 'sendgrid:sg-1');
      expect(row?.issue_id).not.toBeNull();
    });
  });

  it('answers 404 for a provider that is not configured', async () => {
    expect((await post('sparkpost', {})).status).toBe(404);
  });
});
