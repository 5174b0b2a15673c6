import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { SendMailOptions, Transporter } from 'nodemailer';

/** What nodemailer's SMTP transport resolves with (its types leave it `any`). */
interface SmtpSentInfo {
  messageId: string;
  response: string;
}

/** What its stream transport resolves with: a Buffer when `buffer: true`. */
interface StreamSentInfo {
  messageId: string;
  message: Buffer | NodeJS.ReadableStream;
}
import type { Config } from '../config/config.js';

/** A recipient: a bare address, or a name and address (the name is MIME-encoded by nodemailer). */
export type Recipient = string | { name: string; address: string };

/** A body already quoted-printable-encoded with CRLF line ends (see scheduler/encoded-edition.ts). */
export interface QuotedPrintableBody {
  /** The encoded body in pieces, joined in order. */
  quotedPrintable: Buffer[];
}

export interface OutgoingMessage {
  to: Recipient;
  subject: string;
  html: string | QuotedPrintableBody;
  text: string | QuotedPrintableBody;
  /** Defaults to MAIL_FROM. */
  from?: string;
  /** Full Message-ID including angle brackets; nodemailer makes one when absent. */
  messageId?: string;
  /** `prepared` values are written as they are (already RFC 5322-safe ASCII), never MIME-encoded. */
  headers?: Record<string, string | { prepared: true; value: string }>;
  /**
   * The envelope sender (SMTP MAIL FROM), which the receiving side keeps as Return-Path and where
   * bounces go; defaults to From's address. Issue messages carry a VERP address here (BOUNCE_DOMAIN).
   */
  returnPath?: string;
}

export interface SendResult {
  messageId: string;
  /** The server's reply (SMTP) or the file written (outbox). */
  response: string;
}

/** An SMTP failure with the server's reply kept, so a delivery can be retried or reported. */
export class SendError extends Error {
  constructor(
    message: string,
    /** SMTP reply code such as 451 or 550; undefined for connection failures. */
    readonly responseCode: number | undefined,
    readonly response: string,
    /** nodemailer's error code such as ECONNECTION, EAUTH, EENVELOPE, EMESSAGE. */
    readonly code?: string,
    /** The SMTP command the reply answered (`MAIL FROM`, `RCPT TO`, `DATA`, `CONN`, …): whose problem it is. */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** The one way mail leaves the service: issues, confirmations and test sends alike. */
export interface Messenger {
  readonly kind: 'smtp' | 'outbox';
  send(message: OutgoingMessage): Promise<SendResult>;
  /**
   * Drops every connection now, messages in transit included: their sends fail with ECONNECTION
   * and stay to be sent again (same Message-ID). For a stop that cannot wait for a silent server.
   */
  abort(): void;
  close(): void;
}

export interface MessengerOptions {
  /** Pooled SMTP connections; defaults to SEND_CONCURRENCY. */
  connections?: number;
  /** At most this many messages per second over this pool (none by default: see createMessenger). */
  rateLimit?: number;
}

/**
 * Headers the DKIM signature covers (README, "DKIM"). nodemailer's default list leaves out
 * List-Unsubscribe-Post, and a one-click unsubscribe header that is not signed is ignored by
 * Gmail and Yahoo. MIME-Version and Content-Type are signed too so the body cannot be re-framed.
 * Headers absent from a message are left out of `h=` by nodemailer.
 */
export const DKIM_HEADER_FIELDS = [
  'From',
  'To',
  'Subject',
  'Date',
  'Message-ID',
  'List-Id',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'MIME-Version',
  'Content-Type',
].join(':');

function toSendError(error: unknown, requireTls: boolean): SendError {
  const e = error as { message?: string; responseCode?: number; response?: string; code?: string; command?: string };
  let response = e.response ?? e.message ?? String(error);
  if (requireTls && e.code === 'ETLS') {
    response =
      `${response} (SMTP_URL carries credentials and the server offers no working STARTTLS, so they were not sent: ` +
      'use smtps:// or a server with STARTTLS, or set SMTP_ALLOW_PLAINTEXT_AUTH=true on a trusted network)';
  }
  return new SendError(e.message ?? String(error), e.responseCode, response, e.code, e.command);
}

/** Loopback as written in SMTP_URL (a name that needs DNS is not trusted to stay on this machine). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === '::1' || host === '::ffff:127.0.0.1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Credentials go over TLS only (implicit TLS of smtps://, or STARTTLS, which nodemailer then
 * insists on), unless the server is on this machine or the operator allowed plain text.
 */
export function mustRequireTls(url: URL, allowPlaintextAuth: boolean): boolean {
  return url.username !== '' && url.protocol !== 'smtps:' && !allowPlaintextAuth && !isLoopbackHost(url.hostname);
}

export function createMessenger(config: Config, options: MessengerOptions = {}): Messenger {
  if (!config.smtpUrl) return new OutboxMessenger(config);
  return new SmtpMessenger(
    config,
    options.connections ?? config.sendConcurrency,
    // SEND_RATE_LIMIT is kept by the send engine for the whole cluster (a token bucket in the
    // database), right before each message leaves; a second limit inside nodemailer would hold
    // messages in its queue, out of reach of a stop or a lost lease.
    options.rateLimit,
  );
}

function dkimOptions(config: Config): SendMailOptions['dkim'] {
  if (!config.dkim) return undefined;
  return {
    domainName: config.dkim.domain,
    keySelector: config.dkim.selector,
    privateKey: config.dkim.privateKey,
    headerFieldNames: DKIM_HEADER_FIELDS,
  };
}

/**
 * A TCP connection to the SMTP server with Nagle's algorithm off, handed to nodemailer's pool
 * while it is still connecting: nodemailer's own handlers, timeouts and errors (connection
 * refused, …) apply as usual, and it does the TLS of smtps:// or STARTTLS on top.
 */
export function noDelayConnection(
  options: { host?: string; port?: number },
  callback: (err: Error | null, socketOptions: { connection: net.Socket }) => void,
): void {
  const socket = net.connect({ host: options.host, port: options.port ?? 587 });
  socket.setNoDelay(true);
  callback(null, { connection: socket });
}

/** Connection and greeting waits: a server that does not answer at all is down, not slow. */
const CONNECT_TIMEOUT_MS = 30_000;

function recipientText(to: Recipient): string {
  return typeof to === 'string' ? to : to.address;
}

/** A MIME part as nodemailer's public options describe one (an attachment's shape: `raw` is written as it is). */
type MailPart = NonNullable<SendMailOptions['attachments']>[number];

/** A prepared body becomes a raw MIME part: nodemailer writes it as it is instead of encoding it again. */
function bodyPart(body: string | QuotedPrintableBody, contentType: string): string | MailPart {
  if (typeof body === 'string') return body;
  const head = Buffer.from(
    `Content-Type: ${contentType}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n`,
    'latin1',
  );
  return { raw: Buffer.concat([head, ...body.quotedPrintable]) };
}

function baseMail(config: Config, message: OutgoingMessage): nodemailer.SendMailOptions {
  return {
    from: message.from ?? config.mailFrom,
    to: message.to,
    subject: message.subject,
    html: bodyPart(message.html, 'text/html'),
    text: bodyPart(message.text, 'text/plain'),
    messageId: message.messageId,
    headers: message.headers,
    ...(message.returnPath ? { envelope: { from: message.returnPath, to: recipientText(message.to) } } : {}),
    textEncoding: 'quoted-printable',
    // Content comes from editors and subscribers: never let nodemailer read files or fetch URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

class SmtpMessenger implements Messenger {
  readonly kind = 'smtp' as const;
  private readonly transporter: Transporter<SmtpSentInfo>;
  private readonly requireTls: boolean;
  /** Every connection this pool opened and that is still open, so abort() can drop them. */
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly config: Config,
    connections: number,
    rateLimit: number | undefined,
  ) {
    const url = new URL(config.smtpUrl ?? '');
    this.requireTls = mustRequireTls(url, config.smtpAllowPlaintextAuth);
    const connect: typeof noDelayConnection = (options, callback) =>
      noDelayConnection(options, (error, socketOptions) => {
        const socket = socketOptions.connection;
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        callback(error, socketOptions);
      });
    // `maxRequeues` is a pool option nodemailer documents and its type declarations lack.
    const options = {
      pool: true as const,
      maxConnections: connections,
      maxMessages: Infinity,
      // A message whose connection closed fails back to the send engine, which records the attempt
      // and retries with backoff; nodemailer would otherwise resend it by itself, without end.
      maxRequeues: 0,
      // nodemailer counts messages per second across the whole pool and holds the rest back.
      ...(rateLimit ? { rateLimit, rateDelta: 1000 } : {}),
      dkim: dkimOptions(config),
      // Nagle's algorithm holds each message's small end-of-data segment back until the server's
      // delayed ACK (40 ms on Linux): measured on loopback, 44 ms per message per connection
      // instead of 4. So connections are opened here with TCP_NODELAY; nodemailer then speaks
      // SMTP on them (and does the TLS of smtps:// or STARTTLS itself, with the options below).
      getSocket: connect,
      // A reply overdue by SMTP_TIMEOUT fails the message as temporary (sent again later with the
      // same Message-ID), instead of nodemailer's 10 minutes that hold a stopping sender hostage.
      connectionTimeout: Math.min(CONNECT_TIMEOUT_MS, config.smtpTimeoutMs),
      greetingTimeout: Math.min(CONNECT_TIMEOUT_MS, config.smtpTimeoutMs),
      socketTimeout: config.smtpTimeoutMs,
      requireTLS: this.requireTls,
      host: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587,
      secure: url.protocol === 'smtps:',
      auth: url.username
        ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
        : undefined,
      // A loopback or private relay often has a self-signed certificate; STARTTLS is still used when offered.
      tls: { rejectUnauthorized: url.searchParams.get('tls_verify') !== 'false' },
    };
    this.transporter = nodemailer.createTransport(options);
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    try {
      const info = await this.transporter.sendMail(baseMail(this.config, message));
      return { messageId: info.messageId, response: info.response };
    } catch (error) {
      throw toSendError(error, this.requireTls);
    }
  }

  abort(): void {
    for (const socket of this.sockets)
      socket.destroy(new Error('connection dropped by the sender: the reply was overdue'));
  }

  close(): void {
    this.transporter.close();
  }
}

/**
 * Writes a file under a temporary name (no `.eml` ending, so the outbox never lists it), then
 * renames it into place: a full disk leaves no empty or cut `.eml` behind, only an error.
 */
function writeWhole(file: string, data: Buffer): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    // Copies of messages to subscribers: the service's user alone reads them.
    writeFileSync(temporary, data, { flush: true, mode: 0o600 });
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** The embedded default: each message becomes an RFC 5322 `.eml` file in DATA_DIR/outbox. */
class OutboxMessenger implements Messenger {
  readonly kind = 'outbox' as const;
  private readonly transporter: Transporter<StreamSentInfo>;
  private sequence = 0;

  constructor(private readonly config: Config) {
    // Copies of messages to subscribers: the service's user alone reads them.
    mkdirSync(config.outboxDir, { recursive: true, mode: 0o700 });
    this.transporter = nodemailer.createTransport({
      streamTransport: true,
      buffer: true,
      newline: 'unix',
      dkim: dkimOptions(config),
    });
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    const info = await this.transporter.sendMail(baseMail(this.config, message));
    const safeTo = recipientText(message.to).replace(/[^a-zA-Z0-9@._-]/g, '_');
    // A message with a fixed Message-ID (every issue message) always gets the same file, so a send
    // resumed after a failure replaces its file instead of leaving two for one person.
    const stem = message.messageId
      ? createHash('sha256').update(message.messageId).digest('hex').slice(0, 24)
      : `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${++this.sequence}`;
    const file = path.join(this.config.outboxDir, `${stem}-${safeTo}.eml`);
    if (!Buffer.isBuffer(info.message))
      throw new Error('outbox: nodemailer gave a stream where a Buffer was asked for');
    // The outbox is where the message is delivered, so it gets the Return-Path a final MTA adds.
    const returnPath = message.returnPath ? Buffer.from(`Return-Path: <${message.returnPath}>\n`) : undefined;
    writeWhole(file, returnPath ? Buffer.concat([returnPath, info.message]) : info.message);
    return { messageId: info.messageId, response: `written to ${file}` };
  }

  /** Each file is written whole in one call: nothing is ever left waiting on a server. */
  abort(): void {}

  close(): void {
    this.transporter.close();
  }
}
