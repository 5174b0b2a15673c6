import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInboundMail, startBounceIntake } from '../../../scheduler/bounces/bounce-intake.js';
import { MailboxPoller, parseMailboxUrl } from '../../../scheduler/bounces/imap-poller.js';
import type { ReturnedMailHandler } from '../../../scheduler/bounces/inbound-mail.js';
import { openServices } from '../../../src/app/services.js';
import { createLogger } from '../../../src/log/logger.js';
import { eventually } from '../../helpers/eventually.js';
import { startImapServer, type ImapTestServer } from '../../helpers/imap-server.js';
import { feedbackRows, originalText, sendDemoIssue, subscriberState, type SentIssue } from './bounce-harness.js';
import { arfComplaint, gmailBounce, outOfOffice, postfixBounce, type ReturnedMailInput } from './report-fixtures.js';

const PROCESSED = 'Processed';

describe('parsing BOUNCE_IMAP_URL', () => {
  it('reads host, port, TLS, credentials and mailbox', () => {
    expect(parseMailboxUrl('imaps://box%40example.org:p%40ss@mail.example.org/Bounces%20In')).toEqual({
      host: 'mail.example.org',
      port: 993,
      secure: true,
      user: 'box@example.org',
      pass: 'p@ss',
      mailbox: 'Bounces In',
      verifyTls: true,
    });
    expect(parseMailboxUrl('imap://u:p@127.0.0.1:1143?tls_verify=false')).toMatchObject({
      port: 1143,
      secure: false,
      mailbox: 'INBOX',
      verifyTls: false,
    });
  });
});

describe('a bounce mailbox on a real IMAP server (Dovecot on loopback)', () => {
  let imap: ImapTestServer;
  let sent: SentIssue;

  const input = (email: string, to?: string): ReturnedMailInput => {
    const mail = sent.mails.get(email);
    if (!mail) throw new Error(`no message was sent to ${email}`);
    return { to: to ?? mail.envelopeFrom, recipient: email, original: originalText(mail) };
  };

  async function withClient<T>(work: (client: ImapFlow) => Promise<T>): Promise<T> {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: imap.port,
      secure: false,
      auth: { user: imap.user, pass: imap.password },
      logger: false,
    });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.logout();
    }
  }

  const append = (raw: string) => withClient((client) => client.append('INBOX', raw));
  const count = (mailbox: string) =>
    withClient(async (client) => {
      const list = await client.list();
      if (!list.some((m) => m.path === mailbox)) return 0;
      const status = await client.status(mailbox, { messages: true });
      return status ? (status.messages ?? 0) : 0;
    });

  beforeAll(async () => {
    imap = await startImapServer();
    sent = await sendDemoIssue([
      'gmail@example.net',
      'fbl@example.net',
      'ooo@example.net',
      'noverp@example.net',
      'victim@example.net',
      'later@example.net',
    ]);
  });

  afterAll(async () => {
    await sent?.close();
    await imap?.close();
  });

  function poller(handler: ReturnedMailHandler = createInboundMail(sent.services)): MailboxPoller {
    return new MailboxPoller(
      { handler, logger: createLogger('silent') },
      { url: imap.url, processedFolder: PROCESSED, intervalMs: 60_000, maxBytes: 2 * 1024 * 1024 },
    );
  }

  it('applies each message, then moves it to the processed folder', async () => {
    await append(gmailBounce(input('gmail@example.net')));
    await append(arfComplaint(input('fbl@example.net')));
    await append(outOfOffice(input('ooo@example.net')));
    // A DSN that reached the mailbox without a token (a relay rewrote the return path): the
    // returned original's Message-ID proves whom it is about.
    await append(postfixBounce(input('noverp@example.net', 'bounces@example.org')));
    // A forged report naming someone, with no token and no Message-ID of ours: nobody changes.
    await append(
      postfixBounce({
        to: 'bounces@example.org',
        recipient: 'victim@example.net',
        original: 'Message-ID: <made-up@example.org>\r\n\r\nx\r\n',
      }),
    );
    expect(await count('INBOX')).toBe(5);

    const report = await poller().pollOnce();
    expect(report).toMatchObject({ moved: 5, left: 0 });
    expect(await count('INBOX')).toBe(0);
    expect(await count(PROCESSED)).toBe(5);

    expect((await subscriberState(sent.services, 'gmail@example.net')).status).toBe('bounced');
    expect((await subscriberState(sent.services, 'fbl@example.net')).status).toBe('complained');
    expect((await subscriberState(sent.services, 'ooo@example.net')).status).toBe('active');
    expect((await subscriberState(sent.services, 'noverp@example.net')).status).toBe('bounced');
    expect((await subscriberState(sent.services, 'victim@example.net')).status).toBe('active');
    const unmatched = (await feedbackRows(sent.services)).find((r) => r.recipient === 'victim@example.net');
    expect(unmatched).toMatchObject({ source: 'imap', kind: 'hard', subscriber_id: null, outcome: 'no-subscriber' });
  });

  it('leaves a message whose handling failed in the mailbox for the next poll, and never deletes one', async () => {
    const before = await count(PROCESSED);
    await append(gmailBounce(input('later@example.net')));
    const failing: ReturnedMailHandler = {
      handle: () => Promise.reject(new Error('database is locked')),
    };
    expect(await poller(failing).pollOnce()).toMatchObject({ moved: 0, left: 1 });
    expect(await count('INBOX')).toBe(1);
    expect((await subscriberState(sent.services, 'later@example.net')).status).toBe('active');
    expect(await count(PROCESSED)).toBe(before);
  });

  it('is polled by the intake of `serve` when BOUNCE_IMAP_URL is set, within the interval', async () => {
    // A second process's view of the same database, configured with the mailbox.
    const config = sent.env.config;
    const services = await openServices(
      { ...config, bounces: { ...config.bounces, imapUrl: imap.url } },
      { logger: createLogger('silent') },
    );
    const intake = await startBounceIntake(services, { mailboxPollMs: 200 });
    try {
      await eventually('the bounce to be applied', () => subscriberState(sent.services, 'later@example.net'), {
        holds: (state) => state.status === 'bounced',
      });
      await eventually('the inbox to be emptied (messages left)', () => count('INBOX'), { holds: (n) => n === 0 });
    } finally {
      await intake.stop();
      await services.close();
    }
  });
});
