import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type { Config } from '../../src/config/config.js';

export interface OutgoingMessage {
  to: string;
  subject: string;
  html: string;
  text: string;
  /** Defaults to MAIL_FROM. */
  from?: string;
  /** Full Message-ID including angle brackets; nodemailer makes one when absent. */
  messageId?: string;
  headers?: Record<string, string>;
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
  ) {
    super(message);
  }

  /** 4xx replies and dropped connections are worth another attempt; 5xx are final. */
  get temporary(): boolean {
    return this.responseCode === undefined || (this.responseCode >= 400 && this.responseCode < 500);
  }
}

/** The one way mail leaves the service: issues, confirmations and test sends alike. */
export interface Messenger {
  readonly kind: 'smtp' | 'outbox';
  send(message: OutgoingMessage): Promise<SendResult>;
  close(): void;
}

export interface MessengerOptions {
  /** Pooled SMTP connections; defaults to SEND_CONCURRENCY. */
  connections?: number;
}

function toSendError(error: unknown): SendError {
  const e = error as { message?: string; responseCode?: number; response?: string; code?: string };
  const response = e.response ?? e.message ?? String(error);
  return new SendError(e.message ?? String(error), e.responseCode, response);
}

export function createMessenger(config: Config, options: MessengerOptions = {}): Messenger {
  if (!config.smtpUrl) return new OutboxMessenger(config);
  return new SmtpMessenger(config, options.connections ?? config.sendConcurrency);
}

function baseMail(config: Config, message: OutgoingMessage): nodemailer.SendMailOptions {
  return {
    from: message.from ?? config.mailFrom,
    to: message.to,
    subject: message.subject,
    html: message.html,
    text: message.text,
    messageId: message.messageId,
    headers: message.headers,
    textEncoding: 'quoted-printable',
  };
}

class SmtpMessenger implements Messenger {
  readonly kind = 'smtp' as const;
  private readonly transporter: Transporter;

  constructor(
    private readonly config: Config,
    connections: number,
  ) {
    const url = new URL(config.smtpUrl ?? '');
    this.transporter = nodemailer.createTransport({
      pool: true,
      maxConnections: connections,
      maxMessages: Infinity,
      host: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587,
      secure: url.protocol === 'smtps:',
      auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
      // A loopback or private relay often has a self-signed certificate; STARTTLS is still used when offered.
      tls: { rejectUnauthorized: url.searchParams.get('tls_verify') !== 'false' },
    });
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    try {
      const info = await this.transporter.sendMail(baseMail(this.config, message));
      return { messageId: info.messageId, response: info.response };
    } catch (error) {
      throw toSendError(error);
    }
  }

  close(): void {
    this.transporter.close();
  }
}

/** The embedded default: each message becomes an RFC 5322 `.eml` file in DATA_DIR/outbox. */
class OutboxMessenger implements Messenger {
  readonly kind = 'outbox' as const;
  private readonly transporter: Transporter;
  private sequence = 0;

  constructor(private readonly config: Config) {
    mkdirSync(config.outboxDir, { recursive: true });
    this.transporter = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    const info = await this.transporter.sendMail(baseMail(this.config, message));
    const safeTo = message.to.replace(/[^a-zA-Z0-9@._-]/g, '_');
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${++this.sequence}-${safeTo}.eml`;
    const file = path.join(this.config.outboxDir, name);
    writeFileSync(file, info.message as Buffer);
    return { messageId: info.messageId, response: `written to ${file}` };
  }

  close(): void {
    this.transporter.close();
  }
}
