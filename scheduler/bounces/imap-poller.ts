import { ImapFlow } from 'imapflow';
import type { FeedbackLogger } from './feedback-processor.js';
import type { InboundResult, ReturnedMailHandler } from './inbound-mail.js';

// A bounce mailbox (BOUNCE_IMAP_URL), polled with imapflow: for a return path that points at a
// hosted mailbox instead of the built-in receiver, or a feedback loop that mails its reports
// there. Each message is read and applied, then moved to the processed folder; nothing is ever
// deleted. A message whose handling failed (our database, say) stays where it is for the next poll.

export interface MailboxPollerDeps {
  handler: ReturnedMailHandler;
  logger: FeedbackLogger & { error(fields: object, message: string): void };
}

export interface MailboxPollerOptions {
  /** `imaps://user:pass@host[:port]/MAILBOX`; `imap://` uses STARTTLS when offered; `?tls_verify=false` for a self-signed certificate. */
  url: string;
  /** Where processed messages go (created when missing). */
  processedFolder: string;
  /** Time between polls. */
  intervalMs: number;
  /** Larger messages are moved to the processed folder unread, with a warning in the log. */
  maxBytes: number;
}

export interface PollReport {
  /** Messages moved to the processed folder. */
  moved: number;
  /** Messages left in the mailbox because handling them failed. */
  left: number;
  results: InboundResult[];
}

interface MailboxAddress {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  pass: string;
  mailbox: string;
  verifyTls: boolean;
}

export function parseMailboxUrl(url: string): MailboxAddress {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'imaps:';
  if (!secure && parsed.protocol !== 'imap:') throw new Error('BOUNCE_IMAP_URL must start with imaps:// or imap://');
  const mailbox = decodeURIComponent(parsed.pathname.replace(/^\/+/, ''));
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : secure ? 993 : 143,
    secure,
    user: decodeURIComponent(parsed.username),
    pass: decodeURIComponent(parsed.password),
    mailbox: mailbox !== '' ? mailbox : 'INBOX',
    verifyTls: parsed.searchParams.get('tls_verify') !== 'false',
  };
}

/** Messages fetched per round trip: each is read whole, so this bounds the poller's memory. */
const BATCH = 20;

export class MailboxPoller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PollReport | null> | null = null;
  private stopped = false;
  private readonly address: MailboxAddress;

  constructor(
    private readonly deps: MailboxPollerDeps,
    private readonly options: MailboxPollerOptions,
  ) {
    this.address = parseMailboxUrl(options.url);
  }

  /** Polls now and then every interval; polls never overlap. */
  start(): void {
    this.stopped = false;
    const loop = () => {
      this.running = this.pollOnce()
        .catch((error: unknown) => {
          this.deps.logger.error(
            { err: error instanceof Error ? error.message : String(error), host: this.address.host },
            'bounce mailbox: poll failed; trying again at the next interval',
          );
          return null;
        })
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(loop, this.options.intervalMs);
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass over the mailbox: every message is handled and moved, or left for the next pass. */
  async pollOnce(): Promise<PollReport> {
    const { address } = this;
    const client = new ImapFlow({
      host: address.host,
      port: address.port,
      secure: address.secure,
      auth: { user: address.user, pass: address.pass },
      tls: { rejectUnauthorized: address.verifyTls },
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 30_000,
    });
    // A dropped connection is reported through the pending command; this keeps it off 'error'.
    client.on('error', (error: Error) =>
      this.deps.logger.warn({ err: error.message }, 'bounce mailbox: connection error'),
    );
    await client.connect();
    const report: PollReport = { moved: 0, left: 0, results: [] };
    try {
      await client.mailboxCreate(this.options.processedFolder);
      const lock = await client.getMailboxLock(address.mailbox);
      try {
        const uids = (await client.search({ all: true }, { uid: true })) || [];
        for (let i = 0; i < uids.length; i += BATCH) {
          await this.handleBatch(client, uids.slice(i, i + BATCH), report);
        }
      } finally {
        lock.release();
      }
    } finally {
      await client.logout().catch(() => client.close());
    }
    if (report.moved + report.left > 0)
      this.deps.logger.info({ moved: report.moved, left: report.left }, 'bounce mailbox polled');
    return report;
  }

  private async handleBatch(client: ImapFlow, uids: number[], report: PollReport): Promise<void> {
    const sizes = await client.fetchAll(uids, { uid: true, size: true }, { uid: true });
    const small = sizes.filter((m) => (m.size ?? 0) <= this.options.maxBytes).map((m) => m.uid);
    const large = sizes.filter((m) => (m.size ?? 0) > this.options.maxBytes);
    const done: number[] = [];
    for (const message of small.length > 0
      ? await client.fetchAll(small, { uid: true, source: true }, { uid: true })
      : []) {
      try {
        report.results.push(await this.deps.handler.handle(message.source ?? Buffer.alloc(0), { source: 'imap' }));
        done.push(message.uid);
      } catch (error) {
        report.left++;
        this.deps.logger.error(
          { uid: message.uid, err: error instanceof Error ? error.message : String(error) },
          'bounce mailbox: could not apply a message; it stays for the next poll',
        );
      }
    }
    for (const message of large) {
      // Not read, not lost: it waits in the processed folder for a person.
      this.deps.logger.warn(
        { uid: message.uid, size: message.size },
        'bounce mailbox: message too large to read, moved aside',
      );
      done.push(message.uid);
    }
    if (done.length > 0) {
      await client.messageMove(done, this.options.processedFolder, { uid: true });
      report.moved += done.length;
    }
  }
}
