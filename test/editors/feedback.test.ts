import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bounceAddresses, createFeedbackProcessor, createInboundMail } from '../../scheduler/bounces/bounce-intake.js';
import { findSubscriberByEmail } from '../../subscribers/subscriber-repository.js';
import { runCli } from '../helpers/cli.js';
import { originalText, sendDemoIssue, type SentIssue } from '../scheduler/bounces/bounce-harness.js';
import { arfComplaint, gmailBounce, personalReply, postfixDelay } from '../scheduler/bounces/report-fixtures.js';
import { addEditor, Client, EDITOR_PASSWORD, startApp, type RunningApp } from './admin-helpers.js';

describe('editors see what came back from an issue', () => {
  let sent: SentIssue;
  let app: RunningApp;
  let client: Client;

  beforeAll(async () => {
    sent = await sendDemoIssue(['hard@example.net', 'soft@example.net', 'spam@example.net', 'writes@example.net']);
    const handler = createInboundMail(sent.services);
    const addresses = bounceAddresses(sent.env.config);
    const deliver = async (email: string, fixture: typeof gmailBounce, extra: (raw: string) => string = (r) => r) => {
      const mail = sent.mails.get(email);
      if (!mail || !addresses) throw new Error(`nothing sent to ${email}`);
      const raw = extra(fixture({ to: mail.envelopeFrom, recipient: email, original: originalText(mail) }));
      await handler.handle(Buffer.from(raw), {
        source: 'smtp',
        delivery: addresses.parse(mail.envelopeFrom) ?? undefined,
      });
    };
    await deliver('hard@example.net', gmailBounce);
    await deliver('soft@example.net', postfixDelay);
    await deliver('spam@example.net', arfComplaint);
    await deliver('writes@example.net', personalReply, (raw) =>
      raw.replace('Thank you,', 'Thank you <script>alert(1)</script>,'),
    );
    // A provider event about an address nobody subscribes with.
    await createFeedbackProcessor(sent.services).apply({
      source: 'postmark',
      eventId: 'Bounce:1',
      kind: 'hard',
      recipient: 'stranger@example.net',
      recipientTrusted: true,
      diagnostic: 'HardBounce: unknown user',
    });
    app = await startApp(sent.services);
    await addEditor(sent.services, 'ed@example.org', EDITOR_PASSWORD);
    client = new Client(app.url);
    await client.login('ed@example.org', EDITOR_PASSWORD);
  });

  afterAll(async () => {
    await app?.close();
    await sent?.close();
  });

  it('per issue: hard and soft bounces, complaints and unclassified replies, with the diagnostic', async () => {
    const res = await client.get(`/admin/issues/${sent.slug}/bounces`);
    expect(res.status).toBe(200);
    const html = await res.text();
    for (const [field, count] of [
      ['hard', 1],
      ['soft', 1],
      ['complaints', 1],
      ['unclassified', 1],
    ] as const) {
      expect(html).toContain(`data-field="${field}">${count}</dd>`);
    }
    expect(html).toContain('550 5.1.1 The email account that you tried to reach does not exist.');
    expect(html).toContain('452 4.2.2 Mailbox full');
    expect(html).toContain('Feedback-Type: abuse');
    expect(html).toContain('please write to bob@example.net');
    // What a person typed is escaped.
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('aria-current="page">Bounces</a>');
  });

  it('per subscriber: their bounces and complaints', async () => {
    const subscriber = await findSubscriberByEmail(sent.services.db, 'hard@example.net');
    const html = await (await client.get(`/admin/subscribers/${subscriber?.uid ?? ''}`)).text();
    expect(html).toContain('id="subscriber-feedback"');
    expect(html).toMatch(/hard bounce<\/td><td>5\.1\.1<\/td><td>550 5\.1\.1 The email account/);
    expect(html).toContain('marked bounced');
  });

  it('lists reports that named no delivery', async () => {
    const html = await (await client.get('/admin/bounces/unmatched')).text();
    expect(html).toContain('stranger@example.net');
    expect(html).toContain('HardBounce: unknown user');
  });

  it('`newsletter status` shows the counts', async () => {
    const run = await runCli(['status', sent.slug], sent.env.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('feedback:   hard bounces 1, soft bounces 1, complaints 1, unclassified replies 1');
  });
});
