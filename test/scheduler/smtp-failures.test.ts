import { describe, expect, it } from 'vitest';
import { classifySendFailure, enhancedStatus } from '../../scheduler/smtp-failures.js';
import { SendError } from '../../src/mail/messenger.js';

// What each SMTP reply means for a delivery. The same rules against a real misbehaving server are
// in smtp-faults.test.ts.

const verdict = (code: number | undefined, response: string, errorCode?: string, command?: string) =>
  classifySendFailure(new SendError(response, code, response, errorCode, command));

describe('classifying SMTP failures', () => {
  it('retries 4xx replies and connection failures; the latter are about the server', () => {
    expect(verdict(451, '451 4.7.1 Greylisted', 'EENVELOPE', 'RCPT TO')).toMatchObject({
      action: 'retry',
      systemic: false,
    });
    expect(verdict(undefined, 'connect ECONNREFUSED 127.0.0.1:25', 'ESOCKET', 'CONN')).toMatchObject({
      action: 'retry',
      systemic: true,
    });
    expect(verdict(undefined, 'Timeout', 'ETIMEDOUT', 'CONN')).toMatchObject({ action: 'retry', systemic: true });
    expect(verdict(421, '421 4.3.2 Shutting down')).toMatchObject({ action: 'retry', systemic: true });
    expect(verdict(535, '535 5.7.8 Bad credentials', 'EAUTH', 'AUTH PLAIN')).toMatchObject({
      action: 'retry',
      systemic: true,
    });
  });

  it('bounces only a final recipient status at RCPT or after DATA', () => {
    for (const status of ['5.1.1', '5.1.2', '5.1.3', '5.1.6', '5.1.10', '5.2.1']) {
      expect(verdict(550, `550 ${status} Recipient gone`, 'EENVELOPE', 'RCPT TO').action, status).toBe('bounce');
      expect(verdict(550, `550 ${status} Recipient gone`, 'EMESSAGE', 'DATA').action, status).toBe('bounce');
    }
    expect(verdict(550, '550 No such user here', 'EENVELOPE', 'RCPT TO')).toMatchObject({ action: 'bounce' });
    // Temporary or unlisted statuses are not a bounce.
    expect(verdict(450, '450 4.2.1 Mailbox busy', 'EENVELOPE', 'RCPT TO').action).toBe('retry');
    expect(verdict(550, '550 5.1.0 Address rejected', 'EENVELOPE', 'RCPT TO').action).toBe('fail');
    expect(verdict(552, '552 5.3.4 Message too big', 'EMESSAGE', 'DATA').action).toBe('fail');
  });

  it('pauses, marking nobody, on any refusal of MAIL FROM and on sender or policy statuses', () => {
    // The replies of issue 9: our own envelope sender refused, read as "no such user" before.
    expect(
      verdict(553, '553 5.1.8 <news@example.org>: Sender address rejected: Domain not found', 'EENVELOPE', 'MAIL FROM'),
    ).toMatchObject({ action: 'pause', systemic: true });
    expect(verdict(550, '550 5.1.8 Access denied, bad outbound sender', 'EENVELOPE', 'MAIL FROM').action).toBe('pause');
    // At MAIL FROM even a recipient-looking status is about us.
    expect(verdict(550, '550 5.1.1 Sender unknown', 'EENVELOPE', 'MAIL FROM').action).toBe('pause');
    expect(verdict(451, '451 4.1.8 Sender domain has no MX', 'EENVELOPE', 'MAIL FROM')).toMatchObject({
      action: 'retry',
      systemic: true,
    });
    // Sender and policy statuses at any stage.
    expect(verdict(550, '550 5.1.7 Bad sender mailbox syntax', 'EENVELOPE', 'RCPT TO').action).toBe('pause');
    expect(verdict(554, '554 5.7.1 Message rejected as spam', 'EMESSAGE', 'DATA').action).toBe('pause');
    expect(verdict(550, '550 5.7.26 Unauthenticated email is not accepted', 'EMESSAGE', 'DATA').action).toBe('pause');
  });

  it('reads the enhanced status code from a reply', () => {
    expect(enhancedStatus('550 5.1.10 Null MX')).toEqual({ klass: 5, subjectDetail: '1.10' });
    expect(enhancedStatus('553 5.1.8 <a@b.c>: Sender rejected')).toEqual({ klass: 5, subjectDetail: '1.8' });
    expect(enhancedStatus('550 Mailbox unavailable (10.5.1.1)')).toBeUndefined();
    expect(enhancedStatus('550 No such user')).toBeUndefined();
  });
});
