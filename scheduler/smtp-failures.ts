import type { SendError } from '../src/mail/messenger.js';

/**
 * What a failed send means for the delivery:
 * - `retry`: 4xx reply or a dropped connection; try again later with backoff.
 * - `fail`: 5xx reply about this message; final, the server's reply is kept.
 * - `bounce`: 5.1.x "no such user"; final, and the subscriber is never mailed again.
 * `systemic` marks failures that are about the server, not the recipient (connection refused,
 * authentication, 421 "service not available"): they never burn a delivery and they are what
 * trips the automatic pause fastest.
 */
export interface FailureVerdict {
  action: 'retry' | 'fail' | 'bounce';
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

/** RFC 3463 enhanced status 5.1.x: bad destination mailbox, system or address syntax. */
const NO_SUCH_USER_STATUS = /(?:^|\D)5\.1\.\d{1,3}(?:\D|$)/;
const NO_SUCH_USER_TEXT =
  /no such (?:user|mailbox|recipient)|user unknown|unknown (?:user|recipient|mailbox)|mailbox (?:does not exist|not found)|recipient address rejected: user unknown/i;

export function classifySendFailure(error: SendError): FailureVerdict {
  const code = error.responseCode;
  const reason = (error.response || error.message).trim().slice(0, 1000);
  const connectionLevel = code === undefined || (error.code !== undefined && CONNECTION_CODES.has(error.code));
  // 421 closes the session; 530/535/534/538 are authentication: all about us or the server.
  const serverLevel = code === 421 || code === 530 || code === 534 || code === 535 || code === 538 || code === 454;
  if (code === undefined || connectionLevel || serverLevel) return { action: 'retry', systemic: true, reason };
  if (code >= 400 && code < 500) return { action: 'retry', systemic: false, reason };
  if (code >= 500 && (NO_SUCH_USER_STATUS.test(reason) || (code === 550 && NO_SUCH_USER_TEXT.test(reason)))) {
    return { action: 'bounce', systemic: false, reason };
  }
  return { action: 'fail', systemic: false, reason };
}
