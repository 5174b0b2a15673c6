import dns from 'node:dns/promises';
import os from 'node:os';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { simpleParser } from 'mailparser';
import { sendIssue } from '../../scheduler/send-control.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';
import { makeTempEnv } from '../helpers/temp-env.js';
import { createMessenger, isLoopbackHost, mustRequireTls, SendError } from '../../src/mail/messenger.js';
import { startFaultSink } from '../scheduler/fault-sink.js';
import { insertSubscribers } from '../scheduler/fixtures.js';
import { importLongIssue } from '../fixtures/long-issue.js';

interface CountingSink {
  url: string;
  arrivals: number[];
  maxConnections: number;
  close(): Promise<void>;
}

/** A real SMTP server that notes when each message arrives and how many sessions are open. */
async function countingSink(replyDelayMs: number): Promise<CountingSink> {
  let open = 0;
  const sink: CountingSink = { url: '', arrivals: [], maxConnections: 0, close: async () => {} };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onConnect(_session, callback) {
      open++;
      sink.maxConnections = Math.max(sink.maxConnections, open);
      callback();
    },
    onClose() {
      open--;
    },
    onData(stream: SMTPServerDataStream, _session: SMTPServerSession, callback: (err?: Error | null) => void) {
      stream.resume();
      stream.on('end', () => {
        sink.arrivals.push(Date.now());
        setTimeout(() => callback(), replyDelayMs);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  sink.url = `smtp://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function sendTo(sink: CountingSink, subscribers: number, env: Record<string, string>) {
  const temp = makeTempEnv({ SMTP_URL: sink.url, ...env });
  const services = await temp.open();
  cleanups.push(() => temp.cleanup());
  cleanups.push(() => services.close());
  const slug = await importLongIssue(services);
  await insertSubscribers(
    services.db,
    Array.from({ length: subscribers }, (_, i) => ({ email: `p${i}@example.org`, topics: ['annex'] })),
  );
  const startedAt = Date.now();
  return { ...(await sendIssue(services, slug)), startedAt };
}

describe('the SMTP pool', () => {
  it('opens SEND_CONCURRENCY connections and uses them in parallel', async () => {
    const sink = await countingSink(80);
    cleanups.push(() => sink.close());
    const report = await sendTo(sink, 12, { SEND_CONCURRENCY: '3' });
    expect(report.outcome).toBe('finished');
    expect(sink.arrivals).toHaveLength(12);
    expect(sink.maxConnections).toBe(3);
  });

  it('sends at most SEND_RATE_LIMIT messages per second', async () => {
    const sink = await countingSink(0);
    cleanups.push(() => sink.close());
    const report = await sendTo(sink, 10, { SEND_CONCURRENCY: '4', SEND_RATE_LIMIT: '4' });
    expect(report.outcome).toBe('finished');
    expect(sink.arrivals).toHaveLength(10);
    // 4 per second from a bucket that holds half a second's worth: the tenth message cannot leave
    // before 2 s after the send started, and at most 4 can leave in its first half second. Both are
    // counted from the start, not from the first arrival, whose own latency on a busy machine would
    // shorten the measured span.
    const start = report.startedAt;
    expect((sink.arrivals[9] ?? 0) - start).toBeGreaterThanOrEqual(1500);
    expect(sink.arrivals.filter((t) => t - start < 500).length).toBeLessThanOrEqual(4);
  });
});

describe('the return path (envelope sender)', () => {
  it('is MAIL FROM over SMTP and the Return-Path of an outbox file; From stays MAIL_FROM', async () => {
    const sink = await startSmtpSink();
    const smtpEnv = makeTempEnv({ SMTP_URL: sink.url, MAIL_FROM: 'News <news@example.org>' });
    const outboxEnv = makeTempEnv({ MAIL_FROM: 'News <news@example.org>' });
    const message = {
      to: 'ann@example.net',
      subject: 'Hello',
      html: '<p>Hi</p>',
      text: 'Hi',
      returnPath: 'bounces+abc@bounces.example.org',
    };
    const smtp = createMessenger(smtpEnv.config);
    const outbox = createMessenger(outboxEnv.config);
    try {
      await smtp.send(message);
      await smtp.send({ ...message, returnPath: undefined });
      const [withPath, without] = await sink.waitFor(2);
      expect(withPath?.envelopeFrom).toBe('bounces+abc@bounces.example.org');
      expect(withPath?.envelopeTo).toEqual(['ann@example.net']);
      expect(withPath?.parsed.from?.value[0]?.address).toBe('news@example.org');
      expect(without?.envelopeFrom).toBe('news@example.org');

      const written = await outbox.send(message);
      const file = written.response.replace(/^written to /, '');
      const text = readFileSync(file, 'utf8');
      expect(text.startsWith('Return-Path: <bounces+abc@bounces.example.org>\n')).toBe(true);
      expect((await simpleParser(text)).from?.value[0]?.address).toBe('news@example.org');
    } finally {
      smtp.close();
      outbox.close();
      await sink.close();
      smtpEnv.cleanup();
      outboxEnv.cleanup();
    }
  });
});

/** The machine's own name when it resolves to a loopback address (it does on Debian: /etc/hosts). */
async function loopbackByName(): Promise<string | undefined> {
  const name = os.hostname();
  const { address } = await dns.lookup(name).catch(() => ({ address: '' }));
  return /^127\.|^::1$/.test(address) ? name : undefined;
}

function oneMessage(to = 'reader@example.org') {
  return { to, subject: 'Hello', html: '<p>Hello</p>', text: 'Hello', messageId: '<one@example.org>' };
}

describe('SMTP credentials never go out in clear text (issue 9 item 8)', () => {
  it('requires TLS when SMTP_URL carries credentials for a host that is not loopback as written', async () => {
    const host = await loopbackByName();
    if (!host) {
      console.warn(`SKIPPING: the host name ${os.hostname()} does not resolve to a loopback address`);
      return;
    }
    const sink = await startFaultSink({ auth: true });
    cleanups.push(() => sink.close());
    const temp = makeTempEnv({ SMTP_URL: `smtp://user:secret@${host}:${sink.port}` });
    cleanups.push(() => temp.cleanup());
    const messenger = createMessenger(temp.config);
    cleanups.push(() => messenger.close());
    const error = await messenger.send(oneMessage()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendError);
    expect((error as SendError).response).toMatch(/SMTP_ALLOW_PLAINTEXT_AUTH=true/);
    expect(sink.authAttempts).toBe(0);
    expect(sink.received).toHaveLength(0);

    // The operator's explicit choice, on a network they trust.
    const allowed = createMessenger(
      makeTempEnv({ SMTP_URL: `smtp://user:secret@${host}:${sink.port}`, SMTP_ALLOW_PLAINTEXT_AUTH: 'true' }).config,
    );
    cleanups.push(() => allowed.close());
    await allowed.send(oneMessage());
    expect(sink.authAttempts).toBe(1);
  });

  it('lets credentials go in plain text to a loopback address (a relay on this machine)', async () => {
    const sink = await startFaultSink({ auth: true });
    cleanups.push(() => sink.close());
    const temp = makeTempEnv({ SMTP_URL: `smtp://user:secret@127.0.0.1:${sink.port}` });
    cleanups.push(() => temp.cleanup());
    const messenger = createMessenger(temp.config);
    cleanups.push(() => messenger.close());
    await messenger.send(oneMessage());
    expect(sink.authAttempts).toBe(1);
    expect(sink.accepted).toHaveLength(1);
  });

  it('decides loopback from the host as written, and TLS only for credentials', () => {
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('mail.example.org')).toBe(false);
    expect(isLoopbackHost('127.0.0.1.example.org')).toBe(false);
    expect(mustRequireTls(new URL('smtp://u:p@mail.example.org:587'), false)).toBe(true);
    expect(mustRequireTls(new URL('smtp://mail.example.org:587'), false)).toBe(false);
    expect(mustRequireTls(new URL('smtps://u:p@mail.example.org'), false)).toBe(false);
    expect(mustRequireTls(new URL('smtp://u:p@mail.example.org:587'), true)).toBe(false);
  });
});

describe('SMTP timeouts and abort (issue 9 item 5)', () => {
  it('fails a message whose reply is overdue by SMTP_TIMEOUT as a temporary failure', async () => {
    const sink = await startFaultSink();
    sink.mode = 'never-answer';
    cleanups.push(() => sink.close());
    const temp = makeTempEnv({ SMTP_URL: sink.url, SMTP_TIMEOUT: '1' });
    cleanups.push(() => temp.cleanup());
    const messenger = createMessenger(temp.config);
    cleanups.push(() => messenger.close());
    const error = await messenger.send(oneMessage()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendError);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', responseCode: undefined });
    expect(sink.received).toHaveLength(1);
  });

  it('abort() drops messages in transit at once instead of waiting for the server', async () => {
    const sink = await startFaultSink();
    sink.mode = 'never-answer';
    cleanups.push(() => sink.close());
    const temp = makeTempEnv({ SMTP_URL: sink.url, SMTP_TIMEOUT: '600', SEND_CONCURRENCY: '2' });
    cleanups.push(() => temp.cleanup());
    const messenger = createMessenger(temp.config);
    cleanups.push(() => messenger.close());
    const sends = [messenger.send(oneMessage('a@example.org')), messenger.send(oneMessage('b@example.org'))];
    await sink.waitForData(2);
    messenger.abort();
    const outcomes = await Promise.allSettled(sends);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    // Nothing was resent behind the engine's back.
    expect(sink.received).toHaveLength(2);
  });
});
