import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../../src/app/services.js';
import { DEMO_DIR } from '../../../src/content/demo.js';
import { importFolder } from '../../../src/content/import.js';
import { nowIso } from '../../../src/db/database.js';
import { startBounceIntake, type BounceIntake } from '../../../scheduler/bounces/bounce-intake.js';
import { countSent } from '../../../scheduler/bounces/feedback-repository.js';
import { requireIssue } from '../../../scheduler/delivery-repository.js';
import { sendIssue, sendStatus, type SendReport } from '../../../scheduler/send-control.js';
import { newSubscriberUid } from '../../../subscribers/tokens.js';
import { eventually } from '../../helpers/eventually.js';
import { makeTempEnv, type TempEnv } from '../../helpers/temp-env.js';
import { BOUNCE_DOMAIN, deliverOverSmtp } from './bounce-harness.js';
import { arfComplaint } from './report-fixtures.js';

const LIST = 1200;
const GATE = 1000;

interface GatedSink {
  url: string;
  /** Raw messages by recipient, with the envelope sender. */
  received: Map<string, { raw: string; envelopeFrom: string }>;
  /** Lets the messages held at the gate (and all later ones) through. */
  open(): void;
  close(): Promise<void>;
}

/**
 * A real SMTP server that accepts the first `gate` messages at once and holds the reply to every
 * later one until `open()`: the send is certainly still in progress, with exactly `gate` messages
 * sent, while the complaints arrive.
 */
async function startGatedSink(gate: number): Promise<GatedSink> {
  let opened = false;
  const held: (() => void)[] = [];
  const received = new Map<string, { raw: string; envelopeFrom: string }>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        received.set(session.envelope.rcptTo[0]?.address ?? '', {
          raw: Buffer.concat(chunks).toString('utf8'),
          envelopeFrom: from ? from.address : '',
        });
        if (opened || received.size <= gate) callback();
        else held.push(() => callback());
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  return {
    url: `smtp://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    received,
    open() {
      opened = true;
      for (const release of held.splice(0)) release();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('a synthetic send of 1,200 messages', () => {
  let sink: GatedSink;
  let env: TempEnv;
  let services: Services;
  let intake: BounceIntake;
  let run: Promise<SendReport>;

  beforeAll(async () => {
    sink = await startGatedSink(GATE);
    // Default limits: 0.3 % complaints after the first 1,000 messages.
    env = makeTempEnv({ SMTP_URL: sink.url, BOUNCE_DOMAIN, BOUNCE_SMTP_PORT: '0', SEND_CONCURRENCY: '4' });
    services = await env.open();
    await importFolder(services.db, DEMO_DIR);
    const now = nowIso();
    for (let i = 0; i < LIST; i += 200) {
      await services.db
        .insertInto('subscribers')
        .values(
          Array.from({ length: Math.min(200, LIST - i) }, (_, k) => ({
            uid: newSubscriberUid(),
            email: `reader${i + k}@example.net`,
            name: '',
            status: 'active' as const,
            created_at: now,
            confirmed_at: now,
            unsubscribed_at: null,
            updated_at: now,
          })),
        )
        .execute();
    }
    intake = await startBounceIntake(services);
    run = sendIssue(services, 'welcome');
  }, 60_000);

  afterAll(async () => {
    sink?.open();
    await run?.catch(() => undefined);
    await intake?.stop();
    await services?.close();
    await sink?.close();
    env?.cleanup();
  });

  it('pauses itself when its complaint rate passes 0.3 %, with the reason shown', async () => {
    const issue = await requireIssue(services.db, 'welcome');
    await eventually(`${GATE} messages sent`, () => countSent(services.db, issue.id), {
      holds: (sent) => sent >= GATE,
      timeoutMs: 60_000,
    });
    const complain = async (n: number) => {
      const email = `reader${n}@example.net`;
      const mail = sink.received.get(email);
      if (!mail) throw new Error(`${email} got nothing`);
      await deliverOverSmtp(
        intake.smtpPort ?? 0,
        mail.envelopeFrom,
        arfComplaint({ to: mail.envelopeFrom, recipient: email, original: mail.raw }),
      );
    };
    // 3 of 1,000 is 0.3 %: not above the limit.
    for (const n of [1, 2, 3]) await complain(n);
    expect((await sendStatus(services, 'welcome')).status).toBe('sending');
    await complain(4);
    const status = await sendStatus(services, 'welcome');
    expect(status.status).toBe('paused');
    expect(status.pauseReason).toBe('Paused automatically: complaint rate 0.4% (4 of 1000 sent) is above 0.3%');

    // The messages held at the gate finish; the rest waits for an editor.
    sink.open();
    const report = await run;
    expect(report.outcome).toBe('paused');
    expect(report.reason).toBe(status.pauseReason);
    expect(report.counts.pending).toBeGreaterThan(100);
    expect(report.counts.sent).toBeLessThan(LIST);
    expect(sink.received.size).toBeLessThan(LIST);
  }, 90_000);
});
