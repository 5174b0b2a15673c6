import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BounceAddresses } from '../../../scheduler/bounces/bounce-address.js';
import { startBounceIntake, type BounceIntake, createInboundMail } from '../../../scheduler/bounces/bounce-intake.js';
import { BounceReceiver } from '../../../scheduler/bounces/smtp-receiver.js';
import { createLogger } from '../../../src/log/logger.js';
import {
  BOUNCE_DOMAIN,
  deliverOverSmtp,
  feedbackRows,
  originalText,
  sendDemoIssue,
  subscriberState,
  type SentIssue,
} from './bounce-harness.js';
import {
  arfComplaint,
  eximBounce,
  gmailBounce,
  microsoft365Bounce,
  outOfOffice,
  personalReply,
  postfixBounce,
  postfixDelay,
  type ReturnedMailInput,
} from './report-fixtures.js';

const FORMS = [
  ['Postfix', 'postfix@example.net', postfixBounce, '5.1.1'],
  ['Exim', 'exim@example.net', eximBounce, '5.0.0'],
  ['Microsoft 365', 'm365@example.net', microsoft365Bounce, '5.1.10'],
  ['Gmail', 'gmail@example.net', gmailBounce, '5.1.1'],
] as const;
const OTHERS = ['arf@example.net', 'ooo@example.net', 'reply@example.net', 'soft@example.net', 'bystander@example.net'];

describe('the built-in bounce receiver (BOUNCE_SMTP_PORT)', () => {
  let sent: SentIssue;
  let intake: BounceIntake;
  let port: number;

  const input = (email: string): ReturnedMailInput => {
    const mail = sent.mails.get(email);
    if (!mail) throw new Error(`no message was sent to ${email}`);
    return { to: mail.envelopeFrom, recipient: email, original: originalText(mail) };
  };

  beforeAll(async () => {
    sent = await sendDemoIssue([...FORMS.map((f) => f[1]), ...OTHERS], { BOUNCE_SMTP_PORT: '0' });
    intake = await startBounceIntake(sent.services);
    port = intake.smtpPort ?? 0;
  });

  afterAll(async () => {
    await intake?.stop();
    await sent?.close();
  });

  it('listens on loopback for BOUNCE_DOMAIN', () => {
    expect(port).toBeGreaterThan(0);
    for (const mail of sent.mails.values()) expect(mail.envelopeFrom.endsWith(`@${BOUNCE_DOMAIN}`)).toBe(true);
  });

  it.each(FORMS)(
    'a %s DSN delivered over SMTP bounces exactly that subscriber',
    async (_name, email, fixture, status) => {
      const data = input(email);
      const reply = await deliverOverSmtp(port, data.to, fixture(data));
      expect(reply).toMatch(/^250/);
      const state = await subscriberState(sent.services, email);
      expect(state.status).toBe('bounced');
      const entry = state.log.at(-1);
      expect(entry).toMatchObject({ action: 'bounce', source: 'system' });
      const evidence = JSON.parse(entry?.detail ?? '{}') as Record<string, unknown>;
      expect(evidence).toMatchObject({ via: 'smtp', kind: 'hard', status, issue: sent.slug });
      expect(String(evidence.diagnostic)).toMatch(/^5\d\d /);
      // Nobody else changed.
      expect((await subscriberState(sent.services, 'bystander@example.net')).status).toBe('active');
    },
  );

  it('applies a DSN delivered twice once', async () => {
    const data = input('postfix@example.net');
    const before = await feedbackRows(sent.services);
    const logBefore = (await subscriberState(sent.services, 'postfix@example.net')).log.length;
    expect(await deliverOverSmtp(port, data.to, postfixBounce(data))).toMatch(/^250/);
    expect(await feedbackRows(sent.services)).toHaveLength(before.length);
    expect((await subscriberState(sent.services, 'postfix@example.net')).log).toHaveLength(logBefore);
  });

  it('an ARF complaint unsubscribes at once, consent source "complaint"', async () => {
    const data = input('arf@example.net');
    await deliverOverSmtp(port, data.to, arfComplaint(data));
    const state = await subscriberState(sent.services, 'arf@example.net');
    expect(state.status).toBe('complained');
    expect(state.log.at(-1)).toMatchObject({ action: 'complaint', source: 'complaint' });
    expect(state.log.at(-1)?.detail).toContain('Feedback-Type: abuse');
  });

  it('an out-of-office reply changes nothing and is not recorded', async () => {
    const data = input('ooo@example.net');
    const before = await feedbackRows(sent.services);
    const logBefore = (await subscriberState(sent.services, 'ooo@example.net')).log;
    expect(await deliverOverSmtp(port, data.to, outOfOffice(data))).toMatch(/^250/);
    expect(await subscriberState(sent.services, 'ooo@example.net')).toEqual({ status: 'active', log: logBefore });
    expect(await feedbackRows(sent.services)).toEqual(before);
  });

  it('a reply nobody can classify is kept for an editor, the subscriber unchanged', async () => {
    const data = input('reply@example.net');
    await deliverOverSmtp(port, data.to, personalReply(data));
    expect((await subscriberState(sent.services, 'reply@example.net')).status).toBe('active');
    const kept = (await feedbackRows(sent.services)).find((r) => r.kind === 'unclassified');
    expect(kept).toMatchObject({
      source: 'smtp',
      outcome: 'kept-for-editor',
      from_address: '"Ann Reader" <reply@example.net>',
    });
    expect(kept?.excerpt).toContain('please write to bob@example.net');
  });

  it('a delay warning is a soft bounce: counted, the subscriber still active', async () => {
    const data = input('soft@example.net');
    await deliverOverSmtp(port, data.to, postfixDelay(data));
    expect((await subscriberState(sent.services, 'soft@example.net')).status).toBe('active');
    const soft = (await feedbackRows(sent.services)).find((r) => r.kind === 'soft');
    expect(soft).toMatchObject({ outcome: 'soft-counted', status_code: '4.2.2' });
  });

  it('refuses a forged token, a foreign recipient and other local parts at RCPT', async () => {
    const data = input('bystander@example.net');
    const token = data.to.slice('bounces+'.length, data.to.indexOf('@'));
    const forged = `bounces+${token.slice(0, 12)}${token[12] === 'a' ? 'b' : 'a'}${token.slice(13)}@${BOUNCE_DOMAIN}`;
    const otherKey = new BounceAddresses('another-secret-key-0123456789abcdef0123', BOUNCE_DOMAIN).address({
      issueId: 1,
      subscriberId: 1,
    });
    const cases: [string, RegExp][] = [
      [forged, /^550 5\.1\.1/],
      [otherKey, /^550 5\.1\.1/],
      ['someone@elsewhere.example.net', /^550 5\.7\.1 Relaying denied/],
      [`postmaster@${BOUNCE_DOMAIN}`, /^550 5\.1\.1/],
    ];
    for (const [to, refusal] of cases) {
      const error = await deliverOverSmtp(port, to, postfixBounce({ ...data, to })).catch((e: unknown) => e);
      expect(error).toMatchObject({ responseCode: 550, command: 'RCPT TO' });
      expect((error as { response: string }).response).toMatch(refusal);
    }
    expect((await subscriberState(sent.services, 'bystander@example.net')).status).toBe('active');
  });

  it('refuses a token of a delivery that does not exist (a subscriber erased since)', async () => {
    const addresses = new BounceAddresses(sent.env.config.secretKey, BOUNCE_DOMAIN);
    const unknown = addresses.address({ issueId: 1, subscriberId: 999_999 });
    const error = await deliverOverSmtp(port, unknown, 'Subject: x\r\n\r\nx\r\n').catch((e: unknown) => e);
    expect(error).toMatchObject({ responseCode: 550 });
    expect((error as { response: string }).response).toMatch(/unknown delivery/);
  });

  it('caps the size of a message', async () => {
    const receiver = new BounceReceiver(
      {
        db: sent.services.db,
        addresses: new BounceAddresses(sent.env.config.secretKey, BOUNCE_DOMAIN),
        handler: createInboundMail(sent.services),
        logger: createLogger('silent'),
      },
      { host: '127.0.0.1', port: 0, maxBytes: 20_000 },
    );
    const smallPort = await receiver.start();
    try {
      const data = input('bystander@example.net');
      const big = postfixBounce({ ...data, original: `${data.original}\r\n${'x'.repeat(76)}\r\n`.repeat(300) });
      const error = await deliverOverSmtp(smallPort, data.to, big).catch((e: unknown) => e);
      expect(error).toMatchObject({ responseCode: 552 });
      expect((await subscriberState(sent.services, 'bystander@example.net')).status).toBe('active');
    } finally {
      await receiver.close();
    }
  });
});
