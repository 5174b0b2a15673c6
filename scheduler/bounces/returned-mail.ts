import { createHash } from 'node:crypto';
import { simpleParser, type AddressObject, type Attachment, type ParsedMail } from 'mailparser';
import { parseFieldGroups, statusCode, typedAddress, typedText, type FieldGroup } from './report-fields.js';

// What came back to a return path: a delivery status notification (RFC 3464), a feedback report
// (RFC 5965), an auto-reply (RFC 3834), or something else (a person writing back). mailparser reads
// the MIME; the report parts are read by report-fields.ts. This module only says what the mail is
// and what it points at; feedback-processor.ts decides whom it concerns and what to do.

export type ReturnedMailVerdict =
  | { kind: 'bounce'; severity: 'hard' | 'soft'; status: string | null; diagnostic: string; recipient: string | null }
  | { kind: 'complaint'; feedbackType: string; recipient: string | null }
  | { kind: 'auto-reply' }
  /** A report that asks for nothing: a success DSN, a "not spam" report. */
  | { kind: 'no-action'; reason: string }
  | { kind: 'unclassified'; reason: string };

export interface ReturnedMail {
  verdict: ReturnedMailVerdict;
  /** The report's own Message-ID, or a hash of its bytes: what keeps it from applying twice. */
  eventId: string;
  subject: string;
  from: string;
  /** The start of its readable text, for an editor. */
  excerpt: string;
  /**
   * Header and report fields that may hold the original's envelope sender (a VERP address):
   * To, Delivered-To, X-Original-To, the DSN's X-Postfix-Sender, the report's Original-Mail-From,
   * the returned original's Return-Path. Searched for a signed token, never trusted otherwise.
   */
  addressText: string;
  /** Message-IDs of the returned original (its header, X-Original-Message-ID, In-Reply-To, References). */
  originalMessageIds: string[];
}

/** At most this much readable text is kept for an editor. */
const EXCERPT_CHARS = 2000;

const DSN_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);
const ORIGINAL_TYPES = new Set(['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/global-headers']);
const COMPLAINT_TYPES = new Set(['abuse', 'fraud', 'virus', 'other']);

export async function readReturnedMail(raw: Buffer): Promise<ReturnedMail> {
  const mail = await simpleParser(raw, {
    keepDeliveryStatus: true,
    skipHtmlToText: false,
    skipImageLinks: true,
    skipTextLinks: true,
    skipTextToHtml: true,
    maxHtmlLengthToParse: 200_000,
  });
  const attachments = mail.attachments;
  const original = attachments.find((a) => ORIGINAL_TYPES.has(a.contentType));
  const originalHead = original ? headerBlock(original.content.toString('utf8')) : '';
  const reportFields = attachments
    .filter((a) => DSN_TYPES.has(a.contentType) || a.contentType === 'message/feedback-report')
    .flatMap((a) => parseFieldGroups(a.content.toString('utf8')));

  const addressText = [
    headerText(mail, 'to'),
    headerText(mail, 'delivered-to'),
    headerText(mail, 'x-original-to'),
    ...reportFields.flatMap((g) => [g.get('x-postfix-sender') ?? '', g.get('original-mail-from') ?? '']),
    ...headerLines(originalHead, 'return-path'),
  ].join('\n');

  return {
    verdict: classify(mail, attachments),
    eventId: eventIdOf(mail, raw),
    subject: mail.subject ?? '',
    from: mail.from?.text ?? '',
    excerpt: (mail.text ?? '')
      .replace(/\n{3,}/g, '\n\n')
      .trim()
      .slice(0, EXCERPT_CHARS),
    addressText,
    originalMessageIds: originalIds(mail, originalHead, reportFields),
  };
}

function classify(mail: ParsedMail, attachments: Attachment[]): ReturnedMailVerdict {
  const dsn = attachments.find((a) => DSN_TYPES.has(a.contentType));
  if (dsn) return classifyDsn(parseFieldGroups(dsn.content.toString('utf8')));
  const feedback = attachments.find((a) => a.contentType === 'message/feedback-report');
  if (feedback) return classifyFeedback(parseFieldGroups(feedback.content.toString('utf8')));
  if (isAutoReply(mail)) return { kind: 'auto-reply' };
  return {
    kind: 'unclassified',
    reason: 'neither a delivery status notification, a feedback report nor an auto-reply',
  };
}

interface RecipientReport {
  action: string;
  status: string | null;
  diagnostic: string;
  recipient: string | null;
}

/**
 * RFC 3464: the first group is about the message, each further group about one recipient. Our
 * messages have one recipient each; a report about several (a relay's) counts its worst: a 5.x.x
 * failure, then a 4.x.x failure or delay. `delivered`, `relayed` and `expanded` ask for nothing.
 */
function classifyDsn(groups: FieldGroup[]): ReturnedMailVerdict {
  const recipients: RecipientReport[] = groups
    .filter((g) => g.has('action') || g.has('final-recipient'))
    .map((g) => {
      const diagnostic = typedText(g.get('diagnostic-code')) ?? '';
      return {
        action: (g.get('action') ?? '').toLowerCase().split(/[\s(]/)[0] ?? '',
        // Exim writes 5.0.0 whatever the remote said; the diagnostic then holds the detail.
        status: statusCode(g.get('status')) ?? statusCode(diagnostic) ?? smtpClass(diagnostic),
        diagnostic,
        recipient: typedAddress(g.get('final-recipient')) ?? typedAddress(g.get('original-recipient')),
      };
    });
  if (recipients.length === 0) return { kind: 'unclassified', reason: 'a delivery status report with no recipient' };
  const failing = recipients.filter((r) => r.action === 'failed' || r.action === 'delayed');
  if (failing.length === 0) {
    return { kind: 'no-action', reason: `delivery status: ${recipients.map((r) => r.action).join(', ')}` };
  }
  const hard = failing.find((r) => r.status?.startsWith('5'));
  const soft = failing.find((r) => r.status?.startsWith('4') || r.action === 'delayed');
  const worst = hard ?? soft;
  if (!worst) return { kind: 'unclassified', reason: 'a failure report with no status code' };
  return {
    kind: 'bounce',
    severity: hard ? 'hard' : 'soft',
    status: worst.status,
    diagnostic: worst.diagnostic !== '' ? worst.diagnostic : `Action: ${worst.action}`,
    recipient: worst.recipient,
  };
}

/** `550 …` → 5.0.0 when a diagnostic carries only a basic SMTP reply code. */
function smtpClass(diagnostic: string): string | null {
  const code = /^\s*([45])\d\d\b/.exec(diagnostic)?.[1];
  return code ? `${code}.0.0` : null;
}

/** RFC 5965: abuse, fraud, virus and other are complaints; not-spam asks for nothing. */
function classifyFeedback(groups: FieldGroup[]): ReturnedMailVerdict {
  const fields = groups[0] ?? new Map<string, string>();
  const type = (fields.get('feedback-type') ?? '').toLowerCase().trim();
  const recipient = typedAddress(fields.get('original-rcpt-to')) ?? typedAddress(fields.get('removal-recipient'));
  if (COMPLAINT_TYPES.has(type)) return { kind: 'complaint', feedbackType: type, recipient };
  if (type === 'not-spam') return { kind: 'no-action', reason: 'feedback report: not spam' };
  return { kind: 'unclassified', reason: `a feedback report of type "${type || 'none'}"` };
}

const AUTO_REPLY_SUBJECT =
  /^\s*(automatic reply|auto(matic)?[- ]?(reply|response)|out of (the )?office|abwesenheit|réponse automatique|respuesta automática|autosvar|vacation|on vacation|away from (the )?office)\b/i;

/**
 * RFC 3834 `Auto-Submitted` (anything but `no`), the headers of common responders that predate
 * it (X-Autoreply, X-Autorespond, Precedence: auto_reply, Exchange's X-Auto-Response-Suppress on
 * its own replies), or a subject in the words responders use.
 */
function isAutoReply(mail: ParsedMail): boolean {
  const autoSubmitted = headerText(mail, 'auto-submitted').toLowerCase();
  if (autoSubmitted !== '' && !autoSubmitted.startsWith('no')) return true;
  if (headerText(mail, 'x-autoreply') !== '' || headerText(mail, 'x-autorespond') !== '') return true;
  if (/auto[_-]?reply/i.test(headerText(mail, 'precedence'))) return true;
  if (headerText(mail, 'x-auto-response-suppress') !== '' && /^\s*(automatic reply|auto)/i.test(mail.subject ?? '')) {
    return true;
  }
  return AUTO_REPLY_SUBJECT.test(mail.subject ?? '');
}

function eventIdOf(mail: ParsedMail, raw: Buffer): string {
  const id = mail.messageId?.trim();
  return id && id !== '' ? id : `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

function originalIds(mail: ParsedMail, originalHead: string, fields: FieldGroup[]): string[] {
  const ids = [
    ...headerLines(originalHead, 'message-id'),
    ...fields.map((g) => g.get('x-original-message-id') ?? ''),
    mail.inReplyTo ?? '',
    ...(Array.isArray(mail.references) ? mail.references : [mail.references ?? '']),
  ];
  const found = new Set<string>();
  for (const text of ids) for (const match of text.matchAll(/<[^<>\s]+>/g)) found.add(match[0]);
  return [...found];
}

/** The header block of a returned original (everything before the first blank line), unfolded. */
function headerBlock(text: string): string {
  const end = text.search(/\r?\n\r?\n/);
  return (end >= 0 ? text.slice(0, end) : text).replace(/\r?\n[ \t]+/g, ' ');
}

function headerLines(head: string, name: string): string[] {
  const prefix = `${name}:`;
  return head
    .split(/\r?\n/)
    .filter((line) => line.toLowerCase().startsWith(prefix))
    .map((line) => line.slice(prefix.length).trim());
}

/** A header as text whatever mailparser made of it (address objects, strings, structured values). */
function headerText(mail: ParsedMail, name: string): string {
  const value: unknown = mail.headers.get(name);
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => addressText(v as AddressObject | string)).join(', ');
  if (typeof value === 'object' && 'text' in value) return String((value as AddressObject).text);
  if (typeof value === 'object' && 'value' in value) return String(value.value);
  return '';
}

function addressText(value: AddressObject | string): string {
  return typeof value === 'string' ? value : value.text;
}
