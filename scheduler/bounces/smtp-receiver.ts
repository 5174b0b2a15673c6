import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Db } from '../../src/db/database.js';
import type { BounceAddresses, DeliveryRef } from './bounce-address.js';
import { findDelivery } from './feedback-repository.js';
import type { FeedbackLogger } from './feedback-processor.js';
import type { ReturnedMailHandler } from './inbound-mail.js';

// The built-in receiver (BOUNCE_SMTP_PORT): an SMTP server, with smtp-server, that takes mail for
// `bounces+<token>@BOUNCE_DOMAIN` and nothing else. Everything it can refuse is refused during the
// SMTP conversation, before any data is read: another domain or local part, a token that is
// malformed, forged or names no delivery, a second recipient, a message over the size cap. What
// it accepts is parsed and applied before it answers, so a 250 means the change is made; a
// failure of ours answers 451 and the sending server tries again later.

export interface BounceReceiverDeps {
  db: Db;
  addresses: BounceAddresses;
  handler: ReturnedMailHandler;
  logger: FeedbackLogger & { error(fields: object, message: string): void };
}

export interface BounceReceiverOptions {
  host: string;
  port: number;
  /** Largest message taken; a DSN quoting a whole issue message is about 100-200 kB. */
  maxBytes?: number;
  /** Concurrent connections. */
  maxClients?: number;
}

export const DEFAULT_MAX_BYTES = 2 * 1024 * 1024;

type SmtpReply = Error & { responseCode: number };

function reply(code: number, text: string): SmtpReply {
  return Object.assign(new Error(text), { responseCode: code });
}

export class BounceReceiver {
  private server: SMTPServer | null = null;
  /** The token each session's recipient named, checked at RCPT. */
  private readonly accepted = new WeakMap<SMTPServerSession, DeliveryRef>();

  constructor(
    private readonly deps: BounceReceiverDeps,
    private readonly options: BounceReceiverOptions,
  ) {}

  /** Starts listening; resolves with the port (useful with port 0). */
  async start(): Promise<number> {
    const maxBytes = this.options.maxBytes ?? DEFAULT_MAX_BYTES;
    const server = new SMTPServer({
      name: this.deps.addresses.domain,
      banner: 'bounce receiver',
      // Sending servers deliver bounces without authentication; TLS would need a certificate for
      // the MX name, which the operator's relay or proxy in front of this port provides if wanted.
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      size: maxBytes,
      maxClients: this.options.maxClients ?? 50,
      logger: false,
      onMailFrom: (_address, session, callback) => {
        // A new transaction (after DATA or RSET) starts with no recipient.
        this.accepted.delete(session);
        callback();
      },
      onRcptTo: (address, session, callback) => {
        this.checkRecipient(address, session).then(
          (refusal) => callback(refusal),
          (error: unknown) => {
            this.deps.logger.error({ err: String(error) }, 'bounce receiver: recipient check failed');
            callback(reply(451, '4.3.0 Temporary failure, please try again later'));
          },
        );
      },
      onData: (stream, session, callback) => this.receive(stream, session, maxBytes, callback),
    });
    server.on('error', (error) => this.deps.logger.error({ err: error.message }, 'bounce receiver error'));
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** undefined accepts the recipient; an error is the refusal the client sees. */
  private async checkRecipient(address: SMTPServerAddress, session: SMTPServerSession): Promise<SmtpReply | undefined> {
    const { addresses } = this.deps;
    if (this.accepted.has(session)) return reply(452, '4.5.3 One recipient per message, please send the rest apart');
    const text = address.address.toLowerCase();
    if (!text.endsWith(`@${addresses.domain}`)) {
      return reply(550, `5.7.1 Relaying denied: this server takes mail for ${addresses.domain} only`);
    }
    const ref = addresses.parse(text);
    if (!ref) return reply(550, '5.1.1 No such recipient: not a return path of this service');
    if (!(await findDelivery(this.deps.db, ref))) return reply(550, '5.1.1 No such recipient: unknown delivery');
    this.accepted.set(session, ref);
    return undefined;
  }

  private receive(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    maxBytes: number,
    callback: (err?: Error | null) => void,
  ): void {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the cap the rest is read and dropped (smtp-server answers once the data ends).
      if (size <= maxBytes) chunks.push(chunk);
    });
    stream.on('end', () => {
      if (stream.sizeExceeded || size > maxBytes) {
        callback(reply(552, `5.3.4 Message too big: at most ${maxBytes} bytes`));
        return;
      }
      const ref = this.accepted.get(session);
      this.accepted.delete(session);
      if (!ref) {
        callback(reply(503, '5.5.1 No valid recipient'));
        return;
      }
      this.deps.handler.handle(Buffer.concat(chunks), { source: 'smtp', delivery: ref }).then(
        () => callback(),
        (error: unknown) => {
          this.deps.logger.error(
            { err: error instanceof Error ? error.message : String(error) },
            'bounce receiver: could not apply a message; the sender will retry',
          );
          callback(reply(451, '4.3.0 Temporary failure, please try again later'));
        },
      );
    });
  }
}
