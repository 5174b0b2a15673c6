// Returned mail as the servers that write it lay it out. Each is made from the standards (RFC 3464
// delivery status notifications, RFC 3462/6522 multipart/report, RFC 5965 feedback reports,
// RFC 3834 auto-replies) and the documented forms of each server: Postfix's bounce(8) templates
// and its X-Postfix-* fields; Exim's default bounce and delay warnings (X-Failed-Recipients,
// Status 5.0.0 whatever the remote reply was); Microsoft 365 / Exchange Online NDRs ("Undeliverable:"
// subject, X-MS-Exchange-Message-Is-Ndr, three-digit status details such as 5.1.10, the original's
// headers only as text/rfc822-headers); Gmail's "Delivery Status Notification (Failure)" with its
// multipart/related human part and X-Original-Message-ID. Lines end in CRLF as on the wire.

export interface ReturnedMailInput {
  /** Where the report is addressed: the VERP envelope sender of the original. */
  to: string;
  /** The address that failed or complained. */
  recipient: string;
  /** The original message as it was sent (headers and body). */
  original: string;
}

const crlf = (lines: string[]): string => lines.join('\r\n');

/** Each report has its own Message-ID, as every server makes them: derived from the recipient here. */
const idPart = (recipient: string): string => recipient.replace(/[^a-z0-9]/gi, '');

/** The message as it travels: CRLF line ends, no trailing line break. */
const wire = (text: string): string => text.replace(/\r?\n/g, '\r\n').replace(/\r\n$/, '');

/** A report's last part (the returned original, whole or its headers) and its closing boundary. */
function lastPart(boundary: string, partHeaders: string[], body: string): string[] {
  return [`--${boundary}`, ...partHeaders, '', body, '', `--${boundary}--`, ''];
}

/** The original's header block (everything before the first blank line). */
export function headerBlock(original: string): string {
  const end = original.search(/\r?\n\r?\n/);
  return (end >= 0 ? original.slice(0, end) : original).replace(/\r?\n/g, '\r\n');
}

function originalMessageId(original: string): string {
  return /^message-id:\s*(<[^>]+>)/im.exec(headerBlock(original))?.[1] ?? '<unknown@example.org>';
}

function originalSubject(original: string): string {
  return /^subject:\s*(.*)$/im.exec(headerBlock(original))?.[1]?.trim() ?? '';
}

/** Postfix 3.x: a bounce after the remote server refused the recipient (bounce(8)'s default template). */
export function postfixBounce({ to, recipient, original }: ReturnedMailInput): string {
  const boundary = '3F1A2C0A1B.1614680132/mail.example.com';
  return crlf([
    'Return-Path: <>',
    'Received: by mail.example.com (Postfix)',
    '\tid 3F1A2C0A1B; Tue,  2 Mar 2021 10:15:32 +0000 (UTC)',
    'Date: Tue,  2 Mar 2021 10:15:32 +0000 (UTC)',
    'From: MAILER-DAEMON@mail.example.com (Mail Delivery System)',
    'Subject: Undelivered Mail Returned to Sender',
    `To: ${to}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    `\tboundary="${boundary}"`,
    'Content-Transfer-Encoding: 8bit',
    `Message-Id: <20210302101532.3F1A2C0A1B.${idPart(recipient)}@mail.example.com>`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mail.example.com.',
    '',
    "I'm sorry to have to inform you that your message could not",
    "be delivered to one or more recipients. It's attached below.",
    '',
    'For further assistance, please send mail to postmaster.',
    '',
    'If you do so, please include this problem report. You can',
    'delete your own text from the attached returned message.',
    '',
    '                   The mail system',
    '',
    `<${recipient}>: host mx.example.net[203.0.113.25] said: 550 5.1.1`,
    `    <${recipient}>: Recipient address rejected: User unknown in virtual`,
    '    mailbox table (in reply to RCPT TO command)',
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mail.example.com',
    'X-Postfix-Queue-ID: 3F1A2C0A1B',
    `X-Postfix-Sender: rfc822; ${to}`,
    'Arrival-Date: Tue,  2 Mar 2021 10:15:30 +0000 (UTC)',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    `Original-Recipient: rfc822;${recipient}`,
    'Action: failed',
    'Status: 5.1.1',
    'Remote-MTA: dns; mx.example.net',
    `Diagnostic-Code: smtp; 550 5.1.1 <${recipient}>: Recipient address`,
    '    rejected: User unknown in virtual mailbox table',
    '',
    ...lastPart(
      boundary,
      ['Content-Description: Undelivered Message', 'Content-Type: message/rfc822', 'Content-Transfer-Encoding: 8bit'],
      wire(original),
    ),
  ]);
}

/** Postfix's delay warning (delay_warning_time): "Delayed Mail (still being retried)", Action delayed. */
export function postfixDelay({ to, recipient, original }: ReturnedMailInput): string {
  const boundary = '8C2B1D0E3F.1614690000/mail.example.com';
  return crlf([
    'Date: Tue,  2 Mar 2021 14:15:32 +0000 (UTC)',
    'From: MAILER-DAEMON@mail.example.com (Mail Delivery System)',
    'Subject: Delayed Mail (still being retried)',
    `To: ${to}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    `Message-Id: <20210302141532.8C2B1D0E3F.${idPart(recipient)}@mail.example.com>`,
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mail.example.com.',
    '',
    '####################################################################',
    '# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #',
    '####################################################################',
    '',
    `<${recipient}>: host mx.example.net[203.0.113.25] said: 452 4.2.2`,
    '    Mailbox full (in reply to RCPT TO command)',
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mail.example.com',
    'X-Postfix-Queue-ID: 8C2B1D0E3F',
    `X-Postfix-Sender: rfc822; ${to}`,
    'Arrival-Date: Tue,  2 Mar 2021 10:15:30 +0000 (UTC)',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: delayed',
    'Status: 4.2.2',
    'Remote-MTA: dns; mx.example.net',
    'Diagnostic-Code: smtp; 452 4.2.2 Mailbox full',
    'Will-Retry-Until: Tue,  7 Mar 2021 10:15:30 +0000 (UTC)',
    '',
    ...lastPart(
      boundary,
      ['Content-Description: Undelivered Message Headers', 'Content-Type: text/rfc822-headers'],
      headerBlock(original),
    ),
  ]);
}

/** Exim 4.9x's default bounce: Status 5.0.0 (Exim does not copy the remote's enhanced code). */
export function eximBounce({ to, recipient, original }: ReturnedMailInput): string {
  const boundary = '1614680132-eximdsn-1804289383';
  return crlf([
    'Return-path: <>',
    'Received: from Debian-exim by mx.example.net with local (Exim 4.94.2)',
    `\tid 1lH2Xy-0003Ab-9Q for ${to}; Tue, 02 Mar 2021 10:15:32 +0000`,
    `X-Failed-Recipients: ${recipient}`,
    'Auto-Submitted: auto-replied',
    'From: Mail Delivery System <Mailer-Daemon@mx.example.net>',
    `To: ${to}`,
    `Content-Type: multipart/report; report-type=delivery-status; boundary=${boundary}`,
    'MIME-Version: 1.0',
    'Subject: Mail delivery failed: returning message to sender',
    `Message-Id: <E1lH2Xy-0003Ab-9Q.${idPart(recipient)}@mx.example.net>`,
    'Date: Tue, 02 Mar 2021 10:15:32 +0000',
    '',
    `--${boundary}`,
    'Content-type: text/plain; charset=us-ascii',
    '',
    'This message was created automatically by mail delivery software.',
    '',
    'A message that you sent could not be delivered to one or more of its',
    'recipients. This is a permanent error. The following address(es) failed:',
    '',
    `  ${recipient}`,
    '    host mx2.example.net [203.0.113.26]',
    `    SMTP error from remote mail server after RCPT TO:<${recipient}>:`,
    `    550 5.1.1 <${recipient}>: Recipient address rejected: User unknown`,
    '',
    `--${boundary}`,
    'Content-type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    '',
    'Action: failed',
    `Final-Recipient: rfc822;${recipient}`,
    'Status: 5.0.0',
    'Remote-MTA: dns; mx2.example.net',
    `Diagnostic-Code: smtp; 550 5.1.1 <${recipient}>: Recipient address rejected: User unknown`,
    '',
    ...lastPart(boundary, ['Content-type: message/rfc822'], wire(original)),
  ]);
}

/** Exim's delay warning ("Warning: message … delayed 24 hours"): Action delayed, Status 4.0.0. */
export function eximDelay({ to, recipient, original }: ReturnedMailInput): string {
  const boundary = '1614766532-eximdsn-846930886';
  return crlf([
    'Auto-Submitted: auto-replied',
    'From: Mail Delivery System <Mailer-Daemon@mx.example.net>',
    `To: ${to}`,
    `Content-Type: multipart/report; report-type=delivery-status; boundary=${boundary}`,
    'MIME-Version: 1.0',
    'Subject: Warning: message 1lH2Xy-0003Ab-9Q delayed 24 hours',
    `Message-Id: <E1lHPzq-0005Cd-2R.${idPart(recipient)}@mx.example.net>`,
    'Date: Wed, 03 Mar 2021 10:15:32 +0000',
    '',
    `--${boundary}`,
    'Content-type: text/plain; charset=us-ascii',
    '',
    'This message was created automatically by mail delivery software.',
    'A message that you sent has not yet been delivered to one or more of its',
    'recipients after more than 24 hours on the queue on mx.example.net.',
    '',
    `  ${recipient}`,
    '    Delay reason: SMTP error from remote mail server after RCPT TO:',
    `    <${recipient}>: 451 4.3.0 Temporary lookup failure`,
    '',
    'No action is required on your part. Delivery attempts will continue for',
    'some time, and this warning may be repeated at intervals if the message',
    'remains undelivered. Eventually the mail delivery software will give up,',
    'and when that happens, the message will be returned to you.',
    '',
    `--${boundary}`,
    'Content-type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    '',
    'Action: delayed',
    `Final-Recipient: rfc822;${recipient}`,
    'Status: 4.0.0',
    'Remote-MTA: dns; mx2.example.net',
    `Diagnostic-Code: smtp; 451 4.3.0 Temporary lookup failure`,
    'Will-Retry-Until: Sat, 06 Mar 2021 10:15:32 +0000',
    '',
    ...lastPart(boundary, ['Content-type: text/rfc822-headers'], headerBlock(original)),
  ]);
}

/** Microsoft 365 / Exchange Online NDR: multipart/alternative human part, original's headers only. */
export function microsoft365Bounce({ to, recipient, original }: ReturnedMailInput): string {
  const boundary = 'b9d7f1a0-6c7e-4d0c-9a51-3c2f1e0d9b8a';
  const alternative = 'aa53e6b4-1f0d-4c6a-9e2b-7d8c9f0a1b2c';
  const [user = '', domain = ''] = recipient.split('@');
  const originalId = originalMessageId(original);
  return crlf([
    'From: Microsoft Outlook',
    '\t<MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.onmicrosoft.com>',
    `To: <${to}>`,
    'Date: Tue, 2 Mar 2021 10:15:33 +0000',
    `Content-Type: multipart/report; report-type=delivery-status;`,
    `\tboundary="${boundary}"`,
    'Content-Language: en-US',
    `Message-ID: <4c2d1a27-5a9e-4f37-9c1b-${idPart(recipient)}@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>`,
    `In-Reply-To: ${originalId}`,
    `References: ${originalId}`,
    `Subject: Undeliverable: ${originalSubject(original)}`,
    'Auto-Submitted: auto-replied',
    'X-MS-PublicTrafficType: Email',
    'X-MS-Exchange-Message-Is-Ndr:',
    'X-MS-Exchange-Organization-SCL: -1',
    'MIME-Version: 1.0',
    '',
    `--${boundary}`,
    `Content-Type: multipart/alternative; differences=Content-Type;`,
    `\tboundary="${alternative}"`,
    '',
    `--${alternative}`,
    'Content-Type: text/plain; charset="us-ascii"',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    `Your message to ${recipient} couldn't be delivered.`,
    `${user} wasn't found at ${domain}.`,
    '',
    'Action Required',
    'Unknown To address',
    '',
    'How to Fix It',
    'The address may be misspelled or may not exist. Try one or more of the fol=',
    'lowing:',
    '',
    `--${alternative}`,
    'Content-Type: text/html; charset="us-ascii"',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    `<html><body><p>Your message to ${recipient} couldn't be delivered.</p></body></html>`,
    '',
    `--${alternative}--`,
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com',
    'Received-From-MTA: dns;mail.example.org',
    'Arrival-Date: Tue, 2 Mar 2021 10:15:31 +0000',
    '',
    `Original-Recipient: rfc822;${recipient}`,
    `Final-Recipient: rfc822;${recipient}`,
    'Action: failed',
    'Status: 5.1.10',
    'Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
    `X-Display-Name: ${user}`,
    '',
    ...lastPart(boundary, ['Content-Type: text/rfc822-headers'], headerBlock(original)),
  ]);
}

/** Gmail (googlemail.com) "Delivery Status Notification (Failure)". */
export function gmailBounce({ to, recipient, original }: ReturnedMailInput): string {
  const report = '000000000000a1b2c3d4e5f60708';
  const related = '000000000000a1b2c3d4e5f60709';
  const alternative = '000000000000a1b2c3d4e5f6070a';
  const originalId = originalMessageId(original);
  return crlf([
    'Received: by 2002:a05:6a10:1234:0:0:0:0 with SMTP id x20csp1234567pxh;',
    '        Tue, 2 Mar 2021 02:15:33 -0800 (PST)',
    'Return-Path: <>',
    'From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>',
    `To: ${to}`,
    'Auto-Submitted: auto-replied',
    'Subject: Delivery Status Notification (Failure)',
    `References: ${originalId}`,
    `In-Reply-To: ${originalId}`,
    `X-Failed-Recipients: ${recipient}`,
    `Message-ID: <603e1e75.1c69fb81.8f3a2.${idPart(recipient)}SMTPIN_ADDED_MISSING@mx.google.com>`,
    'Date: Tue, 02 Mar 2021 02:15:33 -0800 (PST)',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; boundary="${report}"; report-type=delivery-status`,
    '',
    `--${report}`,
    `Content-Type: multipart/related; boundary="${related}"`,
    '',
    `--${related}`,
    `Content-Type: multipart/alternative; boundary="${alternative}"`,
    '',
    `--${alternative}`,
    'Content-Type: text/plain; charset="UTF-8"',
    '',
    '',
    '** Address not found **',
    '',
    `Your message wasn't delivered to ${recipient} because the address couldn't be found, or is unable to receive mail.`,
    '',
    'Learn more here: https://support.google.com/mail/?p=NoSuchUser',
    '',
    'The response from the remote server was:',
    '550 5.1.1 The email account that you tried to reach does not exist.',
    '',
    `--${alternative}`,
    'Content-Type: text/html; charset="UTF-8"',
    '',
    '<html><body><h2>Address not found</h2><p>Your message wasn\'t delivered.</p><img src="cid:icon.png"></body></html>',
    '',
    `--${alternative}--`,
    `--${related}`,
    'Content-Type: image/png; name="icon.png"',
    'Content-Disposition: attachment; filename="icon.png"',
    'Content-Transfer-Encoding: base64',
    'Content-ID: <icon.png>',
    '',
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
    `--${related}--`,
    `--${report}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; googlemail.com',
    'Received-From-MTA: dns; news@example.org',
    'Arrival-Date: Tue, 02 Mar 2021 02:15:32 -0800 (PST)',
    `X-Original-Message-ID: ${originalId}`,
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    'Status: 5.1.1',
    'Remote-MTA: dns; mx.example.net. (203.0.113.25, the server for the domain example.net.)',
    'Diagnostic-Code: smtp; 550 5.1.1 The email account that you tried to reach does not exist. Please try',
    " 5.1.1 double-checking the recipient's email address for typos or",
    ' 5.1.1 unnecessary spaces. Learn more at',
    ' 5.1.1  https://support.google.com/mail/?p=NoSuchUser x20si1234567pxh.123 - gsmtp',
    'Last-Attempt-Date: Tue, 02 Mar 2021 02:15:33 -0800 (PST)',
    '',
    ...lastPart(report, ['Content-Type: message/rfc822'], wire(original)),
  ]);
}

/**
 * An RFC 5965 feedback report (Feedback-Type: abuse), as a mailbox provider's feedback loop sends
 * it, with the original's headers (recipient address redacted, as Yahoo and others do).
 */
export function arfComplaint(
  { to, recipient, original }: ReturnedMailInput,
  options: { feedbackType?: string; originalMailFrom?: string; redacted?: boolean } = {},
): string {
  const boundary = 'part1_13d.2e68ed54_boundary';
  const headers =
    options.redacted === false
      ? headerBlock(original)
      : headerBlock(original).split(recipient).join('redacted@example.net');
  return crlf([
    'From: <feedbackloop@fbl.example.net>',
    'Date: Tue, 2 Mar 2021 11:40:36 +0000',
    'Subject: FW: complaint about a message',
    `To: <${to}>`,
    `Message-ID: <fbl-20210302114036-${idPart(recipient)}@fbl.example.net>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report;',
    `\tboundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset="US-ASCII"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an email abuse report for an email message received from IP',
    '192.0.2.1 on Tue, 2 Mar 2021 10:15:31 +0000.',
    '',
    `--${boundary}`,
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${options.feedbackType ?? 'abuse'}`,
    'User-Agent: ExampleFBL/1.0',
    'Version: 1',
    `Original-Mail-From: <${options.originalMailFrom ?? to}>`,
    `Original-Rcpt-To: <${recipient}>`,
    'Arrival-Date: Tue, 2 Mar 2021 10:15:31 +0000',
    'Reporting-MTA: dns; fbl.example.net',
    'Source-IP: 192.0.2.1',
    'Reported-Domain: example.org',
    '',
    ...lastPart(boundary, ['Content-Type: text/rfc822-headers'], headers),
  ]);
}

/** Microsoft Outlook's "Automatic reply" (RFC 3834 Auto-Submitted plus Exchange's own headers). */
export function outOfOffice({ to, recipient, original }: ReturnedMailInput): string {
  const originalId = originalMessageId(original);
  return crlf([
    `From: Ann Reader <${recipient}>`,
    `To: <${to}>`,
    `Subject: Automatic reply: ${originalSubject(original)}`,
    'Date: Tue, 2 Mar 2021 10:15:40 +0000',
    `Message-ID: <AM0PR01MB1234OOF.${idPart(recipient)}@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>`,
    `In-Reply-To: ${originalId}`,
    `References: ${originalId}`,
    'Auto-Submitted: auto-replied',
    'X-Auto-Response-Suppress: All',
    `X-MS-Exchange-Inbox-Rules-Loop: ${recipient}`,
    'Content-Language: en-GB',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset="us-ascii"',
    '',
    'I am out of the office until Monday 8 March with no access to email.',
    '',
  ]);
}

/** A person's own reply that no rule can classify (kept for an editor). */
export function personalReply({ to, recipient, original }: ReturnedMailInput): string {
  return crlf([
    `From: Ann Reader <${recipient}>`,
    `To: <${to}>`,
    `Subject: Re: ${originalSubject(original)}`,
    'Date: Tue, 2 Mar 2021 12:00:00 +0000',
    `Message-ID: <reply.${idPart(recipient)}@example.net>`,
    `In-Reply-To: ${originalMessageId(original)}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset="utf-8"',
    '',
    'Thank you, but I think my colleague should get this instead: please write to bob@example.net.',
    '',
  ]);
}
