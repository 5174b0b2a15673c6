import type { Services } from '../../src/app/services.js';
import { pauseSend, SendControlError } from '../send-control.js';
import { BounceAddresses } from './bounce-address.js';
import { FeedbackProcessor } from './feedback-processor.js';
import { InboundMail } from './inbound-mail.js';
import { MailboxPoller } from './imap-poller.js';
import { BounceReceiver, DEFAULT_MAX_BYTES } from './smtp-receiver.js';

// Wiring: the feedback pipeline of one process, and the ways in that BOUNCE_SMTP_PORT and
// BOUNCE_IMAP_URL switch on (`newsletter serve` and `newsletter bounces listen`).

/** How often the bounce mailbox is polled: a bounce stops the mail to that person within a minute. */
export const MAILBOX_POLL_MS = 30_000;

export function bounceAddresses(config: Services['config']): BounceAddresses | null {
  return config.bounces.domain ? new BounceAddresses(config.secretKey, config.bounces.domain) : null;
}

export function createFeedbackProcessor(services: Services): FeedbackProcessor {
  return new FeedbackProcessor({
    db: services.db,
    config: services.config,
    logger: services.logger.child({ component: 'bounces' }),
    // The send's own pause: the sender (in this process or another) stops at its next look.
    async pauseSend(issueSlug, reason) {
      try {
        return (await pauseSend(services, issueSlug, reason)).changed;
      } catch (error) {
        if (error instanceof SendControlError) return false;
        throw error;
      }
    },
  });
}

export function createInboundMail(services: Services, processor = createFeedbackProcessor(services)): InboundMail {
  return new InboundMail({ processor, addresses: bounceAddresses(services.config) });
}

export interface BounceIntake {
  /** The receiver's port, when BOUNCE_SMTP_PORT is set. */
  smtpPort: number | null;
  /** The mailbox poller, when BOUNCE_IMAP_URL is set. */
  mailbox: MailboxPoller | null;
  stop(): Promise<void>;
}

export async function startBounceIntake(
  services: Services,
  options: { mailboxPollMs?: number } = {},
): Promise<BounceIntake> {
  const { config } = services;
  const logger = services.logger.child({ component: 'bounces' });
  const handler = createInboundMail(services);
  const addresses = bounceAddresses(config);
  let receiver: BounceReceiver | null = null;
  let smtpPort: number | null = null;
  if (config.bounces.smtpPort !== undefined && addresses) {
    receiver = new BounceReceiver(
      { db: services.db, addresses, handler, logger },
      { host: config.bounces.smtpHost, port: config.bounces.smtpPort },
    );
    smtpPort = await receiver.start();
    logger.info(
      { host: config.bounces.smtpHost, port: smtpPort, domain: addresses.domain },
      'bounce receiver listening',
    );
  }
  let mailbox: MailboxPoller | null = null;
  if (config.bounces.imapUrl) {
    mailbox = new MailboxPoller(
      { handler, logger },
      {
        url: config.bounces.imapUrl,
        processedFolder: config.bounces.imapProcessedFolder,
        intervalMs: options.mailboxPollMs ?? MAILBOX_POLL_MS,
        maxBytes: DEFAULT_MAX_BYTES,
      },
    );
    mailbox.start();
  }
  return {
    smtpPort,
    mailbox,
    async stop() {
      await mailbox?.stop();
      await receiver?.close();
    },
  };
}

/** Starts the configured ways in and says where they listen; `serve` prints the same lines. */
export async function startAndAnnounce(services: Services, stdout: NodeJS.WritableStream): Promise<BounceIntake> {
  const intake = await startBounceIntake(services);
  const { bounces } = services.config;
  if (intake.smtpPort !== null) {
    stdout.write(`Receiving bounces for ${bounces.domain ?? ''} on ${bounces.smtpHost}:${intake.smtpPort}\n`);
  }
  if (intake.mailbox) {
    const url = new URL(bounces.imapUrl ?? '');
    stdout.write(`Polling the bounce mailbox ${url.pathname.replace(/^\//, '') || 'INBOX'} at ${url.host}\n`);
  }
  return intake;
}
