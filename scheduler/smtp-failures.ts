import type { SendError } from '../src/mail/messenger.js';

/**
 * What a failed send means for the delivery:
 * - `retry`: 4xx reply, a dropped connection or an overdue reply; try again later with backoff.
 * - `fail`: 5xx reply about this message; final, the server's reply is kept.
 * - `bounce`: a final recipient status (no such mailbox, disabled mailbox) at RCPT or after DATA;
 *   the subscriber is never mailed again.
 * - `pause`: the server refused *us*: our envelope sender (any reply to MAIL FROM) or a sender or
 *   policy status (5.1.7, 5.1.8, 5.7.x). Nobody on the list is at fault, so nobody is marked: the
 *   send pauses with the reason for an editor to fix the cause.
 * `systemic` marks failures that are about the server, not the recipient (connection refused,
 * authentication, 421 "service not available", timeouts): they never burn a delivery and they are
 * what the automatic pause counts.
 */
export interface FailureVerdict {
  action: 'retry' | 'fail' | 'bounce' | 'pause';
  systemic: boolean;
  /** The server's reply or the connection error, for `deliveries.last_error` and the logs. */
  reason: string;
}

const CONNECTION_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ETLS',
  'EPROTOCOL',
  'ECONNREFUSED',
  'ECONNRESET',
  'EAUTH',
  'ENOAUTH',
  'EOAUTH2',
  'ECLOSE',
]);

/**
 * RFC 3463 statuses that say the recipient's mailbox does not exist or cannot take mail, for good:
 * bad mailbox (5.1.1), bad system (5.1.2), bad address syntax (5.1.3), mailbox moved (5.1.6),
 * null MX (5.1.10, RFC 7505), mailbox disabled (5.2.1).
 */
const RECIPIENT_GONE = new Set(['1.1', '1.2', '1.3', '1.6', '1.10', '2.1']);
/** Statuses about our sender or our standing: bad sender mailbox (5.1.7), bad sender system (5.1.8). */
const SENDER_STATUS = new Set(['1.7', '1.8']);
const ENHANCED_STATUS = /(?:^|[^\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])/;
const NO_SUCH_USER_TEXT =
  /no such (?:user|mailbox|recipient)|user unknown|unknown (?:user|recipient|mailbox)|mailbox (?:does not exist|not found)|recipient address rejected: user unknown/i;

/** The enhanced status code of a reply as `class`, `subject.detail` (e.g. 5, "1.1"), if it has one. */
export function enhancedStatus(reply: string): { klass: number; subjectDetail: string } | undefined {
  const match = ENHANCED_STATUS.exec(reply);
  if (!match) return undefined;
  return { klass: Number(match[1]), subjectDetail: `${Number(match[2])}.${Number(match[3])}` };
}

export function classifySendFailure(error: SendError): FailureVerdict {
  const code = error.responseCode;
  const reason = (error.response || error.message).trim().slice(0, 1000);
  const connectionLevel = code === undefined || (error.code !== undefined && CONNECTION_CODES.has(error.code));
  // 421 closes the session; 530/535/534/538 are authentication: all about us or the server.
  const serverLevel = code === 421 || code === 530 || code === 534 || code === 535 || code === 538 || code === 454;
  if (code === undefined || connectionLevel || serverLevel) return { action: 'retry', systemic: true, reason };
  const status = enhancedStatus(reason);
  // A reply to MAIL FROM is about our envelope sender, whatever its status says.
  const aboutSender = error.command === 'MAIL FROM';
  if (code >= 400 && code < 500) return { action: 'retry', systemic: aboutSender, reason };
  if (
    aboutSender ||
    (status?.klass === 5 && (SENDER_STATUS.has(status.subjectDetail) || status.subjectDetail.startsWith('7.')))
  ) {
    return { action: 'pause', systemic: true, reason };
  }
  const aboutRecipient = error.command === 'RCPT TO' || error.command === 'DATA';
  if (aboutRecipient && status?.klass === 5 && RECIPIENT_GONE.has(status.subjectDetail)) {
    return { action: 'bounce', systemic: false, reason };
  }
  // An old server with no enhanced status: only its plain "no such user" at RCPT counts.
  if (error.command === 'RCPT TO' && status === undefined && code === 550 && NO_SUCH_USER_TEXT.test(reason)) {
    return { action: 'bounce', systemic: false, reason };
  }
  return { action: 'fail', systemic: false, reason };
}
