import { describe, expect, it } from 'vitest';
import { readReturnedMail } from '../../../scheduler/bounces/returned-mail.js';
import {
  arfComplaint,
  eximBounce,
  eximDelay,
  gmailBounce,
  microsoft365Bounce,
  outOfOffice,
  personalReply,
  postfixBounce,
  postfixDelay,
  type ReturnedMailInput,
} from './report-fixtures.js';

const VERP = 'bounces+abcdefghijklmnopqrstuvwxyz@bounces.example.org';
const ORIGINAL = [
  'From: News <news@example.org>',
  'To: ann@example.net',
  'Subject: Welcome · Demo · 2026',
  'Message-ID: <k3yedHashOfIssueAndSubscriber0001@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello Ann',
  '',
].join('\r\n');
const input: ReturnedMailInput = { to: VERP, recipient: 'ann@example.net', original: ORIGINAL };
const read = (text: string) => readReturnedMail(Buffer.from(text, 'utf8'));

describe('reading returned mail', () => {
  it.each([
    ['Postfix', postfixBounce, '5.1.1', /User unknown in virtual mailbox table/],
    ['Exim (Status 5.0.0, detail in the diagnostic)', eximBounce, '5.0.0', /550 5\.1\.1 <ann@example\.net>/],
    ['Microsoft 365', microsoft365Bounce, '5.1.10', /RESOLVER\.ADR\.RecipientNotFound/],
    ['Gmail', gmailBounce, '5.1.1', /does not exist\. Please try 5\.1\.1 double-checking/],
  ])('a %s bounce is a hard bounce with its status and diagnostic', async (_name, fixture, status, diagnostic) => {
    const mail = await read(fixture(input));
    expect(mail.verdict).toMatchObject({ kind: 'bounce', severity: 'hard', status, recipient: 'ann@example.net' });
    expect(mail.verdict.kind === 'bounce' && mail.verdict.diagnostic).toMatch(diagnostic);
    expect(mail.addressText).toContain(VERP);
    expect(mail.originalMessageIds).toContain('<k3yedHashOfIssueAndSubscriber0001@example.org>');
    expect(mail.eventId).toMatch(/^<.+>$/);
  });

  it.each([
    ['Postfix', postfixDelay, '4.2.2'],
    ['Exim', eximDelay, '4.0.0'],
  ])('a %s delay warning is a soft bounce', async (_name, fixture, status) => {
    const mail = await read(fixture(input));
    expect(mail.verdict).toMatchObject({ kind: 'bounce', severity: 'soft', status, recipient: 'ann@example.net' });
  });

  it('takes the worst recipient of a report about several, and nothing from success reports', async () => {
    const several = postfixBounce(input).replace(
      'Final-Recipient: rfc822; ann@example.net',
      'Final-Recipient: rfc822; other@example.net\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\nFinal-Recipient: rfc822; ann@example.net',
    );
    expect((await read(several)).verdict).toMatchObject({ kind: 'bounce', severity: 'hard', status: '5.1.1' });
    const delivered = postfixBounce(input)
      .replace('Action: failed', 'Action: delivered')
      .replace('Status: 5.1.1', 'Status: 2.0.0');
    expect((await read(delivered)).verdict).toEqual({ kind: 'no-action', reason: 'delivery status: delivered' });
  });

  it('reads a status from a basic reply code when the report has no Status field', async () => {
    const noStatus = eximBounce(input)
      .replace('Status: 5.0.0\r\n', '')
      .replace(/Diagnostic-Code: smtp; 550 5\.1\.1/, 'Diagnostic-Code: smtp; 550');
    expect((await read(noStatus)).verdict).toMatchObject({ kind: 'bounce', severity: 'hard', status: '5.0.0' });
  });

  it('an RFC 5965 abuse report is a complaint naming its VERP sender and recipient', async () => {
    const mail = await read(arfComplaint(input, { originalMailFrom: VERP }));
    expect(mail.verdict).toEqual({ kind: 'complaint', feedbackType: 'abuse', recipient: 'ann@example.net' });
    expect(mail.addressText).toContain(VERP);
    expect(mail.originalMessageIds).toEqual(['<k3yedHashOfIssueAndSubscriber0001@example.org>']);
  });

  it('a not-spam report asks for nothing; an auth-failure report is kept unclassified', async () => {
    expect((await read(arfComplaint(input, { feedbackType: 'not-spam' }))).verdict.kind).toBe('no-action');
    expect((await read(arfComplaint(input, { feedbackType: 'auth-failure' }))).verdict).toEqual({
      kind: 'unclassified',
      reason: 'a feedback report of type "auth-failure"',
    });
  });

  it('an out-of-office reply is recognised, with or without RFC 3834 headers', async () => {
    expect((await read(outOfOffice(input))).verdict).toEqual({ kind: 'auto-reply' });
    const old = outOfOffice(input)
      .replace('Auto-Submitted: auto-replied\r\n', '')
      .replace('X-Auto-Response-Suppress: All\r\n', '')
      .replace('Subject: Automatic reply:', 'Subject: Out of Office:');
    expect((await read(old)).verdict).toEqual({ kind: 'auto-reply' });
  });

  it('a personal reply is unclassified, with its sender, subject and text kept', async () => {
    const mail = await read(personalReply(input));
    expect(mail.verdict.kind).toBe('unclassified');
    expect(mail.from).toBe('"Ann Reader" <ann@example.net>');
    expect(mail.subject).toBe('Re: Welcome · Demo · 2026');
    expect(mail.excerpt).toContain('please write to bob@example.net');
    expect(mail.originalMessageIds).toEqual(['<k3yedHashOfIssueAndSubscriber0001@example.org>']);
  });

  it('keys a report without a Message-ID by a hash of its bytes', async () => {
    const text = personalReply(input).replace(/Message-ID: <reply[^>]*>\r\n/, '');
    const a = await read(text);
    expect(a.eventId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await read(text)).eventId).toBe(a.eventId);
  });
});
