import nodemailer from 'nodemailer';
import type { Services } from '../../../src/app/services.js';
import { DEMO_DIR } from '../../../src/content/demo.js';
import { importFolder } from '../../../src/content/import.js';
import type { FeedbackEventTable } from '../../../scheduler/bounces/feedback-repository.js';
import { sendIssue } from '../../../scheduler/send-control.js';
import { listConsentLog, findSubscriberByEmail } from '../../../subscribers/subscriber-repository.js';
import { startSmtpSink, type ReceivedMail, type SmtpSink } from '../../helpers/smtp-sink.js';
import { makeTempEnv, type TempEnv } from '../../helpers/temp-env.js';
import { insertSubscribers } from '../fixtures.js';

export const BOUNCE_DOMAIN = 'bounces.example.org';

export interface SentIssue {
  env: TempEnv;
  services: Services;
  sink: SmtpSink;
  slug: string;
  /** The message each subscriber got, by address. */
  mails: Map<string, ReceivedMail>;
  close(): Promise<void>;
}

/**
 * The project's demo issue sent through a real SMTP server on loopback to `emails`, with
 * BOUNCE_DOMAIN set, so every message carries its VERP return path.
 */
export async function sendDemoIssue(emails: string[], extraEnv: Record<string, string> = {}): Promise<SentIssue> {
  const sink = await startSmtpSink();
  const env = makeTempEnv({
    SMTP_URL: sink.url,
    BOUNCE_DOMAIN,
    MAIL_FROM: 'Demo News <news@example.org>',
    ...extraEnv,
  });
  const services = await env.open();
  const { slug } = await importFolder(services.db, DEMO_DIR);
  await insertSubscribers(
    services.db,
    emails.map((email) => ({ email })),
  );
  const report = await sendIssue(services, slug);
  if (report.outcome !== 'finished') throw new Error(`the demo send did not finish: ${report.reason ?? ''}`);
  const received = await sink.waitFor(emails.length);
  const mails = new Map(received.map((m) => [m.envelopeTo[0] ?? '', m]));
  return {
    env,
    services,
    sink,
    slug,
    mails,
    async close() {
      await services.close();
      await sink.close();
      env.cleanup();
    },
  };
}

/** The original as a DSN quotes it. */
export function originalText(mail: ReceivedMail): string {
  return mail.raw.toString('utf8');
}

/**
 * Delivers `raw` over SMTP from the null sender (as bounces are sent), with nodemailer as a real
 * SMTP client. Resolves with the server's reply, rejects with nodemailer's error (responseCode set).
 */
export async function deliverOverSmtp(port: number, to: string, raw: string): Promise<string> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    const info = (await transport.sendMail({ envelope: { from: '', to }, raw })) as { response: string };
    return info.response;
  } finally {
    transport.close();
  }
}

export async function subscriberState(services: Services, email: string) {
  const subscriber = await findSubscriberByEmail(services.db, email);
  if (!subscriber) throw new Error(`no subscriber ${email}`);
  return { status: subscriber.status, log: await listConsentLog(services.db, subscriber.id) };
}

export async function feedbackRows(services: Services): Promise<FeedbackEventTable[]> {
  return services.db
    .withTables<{ feedback_events: FeedbackEventTable }>()
    .selectFrom('feedback_events')
    .selectAll()
    .orderBy('received_at')
    .execute();
}
