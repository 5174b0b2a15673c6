import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface SlowMail {
  to: string;
  messageId: string;
}

export interface SlowSink {
  url: string;
  received: SlowMail[];
  /** Called right after a message is recorded, before the (delayed) 250 reply goes out. */
  onRecorded?: (count: number) => void;
  close(): Promise<void>;
}

/**
 * A real SMTP server that records each message as soon as its data has arrived and answers
 * `250` only `replyDelayMs` later, like a slow relay. A client killed inside that window leaves a
 * message the server has, that the client never saw accepted: exactly the in-doubt case.
 */
export async function startSlowSink(replyDelayMs: number): Promise<SlowSink> {
  const sink: SlowSink = {
    url: '',
    received: [],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const head = raw.slice(0, raw.search(/\r?\n\r?\n/));
        const messageId = /^Message-ID:\s*(\S+)/im.exec(head)?.[1] ?? '';
        sink.received.push({ to: session.envelope.rcptTo[0]?.address ?? '', messageId });
        sink.onRecorded?.(sink.received.length);
        setTimeout(() => callback(), replyDelayMs);
      });
    },
  });
  // A sender killed mid-message (the crash tests do it on purpose) resets its connection; smtp-server
  // reports that as an 'error' event, which would otherwise be an uncaught exception in the test run.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  sink.url = `smtp://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return sink;
}
