import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

/** What the sink does with a message once its data has arrived. */
export type DataMode = 'accept' | 'never-answer';

export interface FaultMail {
  to: string;
  messageId: string;
  /** When its data arrived (ms since the epoch). */
  at: number;
}

export interface FaultSinkOptions {
  /** Refuse MAIL FROM with this reply (e.g. `553 5.1.8 …`). */
  mailFrom?: () => { code: number; message: string } | undefined;
  /** Refuse RCPT TO for some recipients. */
  rcptTo?: (address: string) => { code: number; message: string } | undefined;
  /** Called for each message whose data arrived; return true to drop the connection instead of answering. */
  dropAfterData?: (n: number) => boolean;
  /** Credentials, when the server asks for them (no STARTTLS is offered). */
  auth?: boolean;
  /** Answer 250 this long after the data arrived, like a distant server. */
  replyDelayMs?: number;
}

export interface FaultSink {
  url: string;
  port: number;
  /** Messages whose data arrived (answered or not), in order. */
  received: FaultMail[];
  /** Messages answered 250. */
  accepted: FaultMail[];
  authAttempts: number;
  mode: DataMode;
  /** Resolves once `count` messages' data has arrived. */
  waitForData(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * A real SMTP server on loopback that misbehaves on demand: refuses our sender, refuses some
 * recipients, never answers after DATA, or drops the connection instead of answering.
 */
export async function startFaultSink(options: FaultSinkOptions = {}): Promise<FaultSink> {
  const waiters: { count: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  const sink: FaultSink = {
    url: '',
    port: 0,
    received: [],
    accepted: [],
    authAttempts: 0,
    mode: 'accept',
    waitForData(count, timeoutMs = 30_000) {
      if (sink.received.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`fault sink got ${sink.received.length} of ${count} messages`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = new SMTPServer({
    authOptional: !options.auth,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      sink.authAttempts++;
      callback(null, { user: auth.username });
    },
    onMailFrom(_address, _session, callback) {
      const refusal = options.mailFrom?.();
      callback(refusal ? smtpError(refusal.code, refusal.message) : undefined);
    },
    onRcptTo(address, _session, callback) {
      const refusal = options.rcptTo?.(address.address);
      callback(refusal ? smtpError(refusal.code, refusal.message) : undefined);
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const head = raw.slice(0, Math.max(0, raw.search(/\r?\n\r?\n/)));
        const mail = {
          to: session.envelope.rcptTo[0]?.address ?? '',
          messageId: /^Message-ID:\s*(\S+)/im.exec(head)?.[1] ?? '',
          at: Date.now(),
        };
        sink.received.push(mail);
        for (const w of waiters.filter((w) => sink.received.length >= w.count)) w.resolve();
        if (options.dropAfterData?.(sink.received.length)) {
          // The connection goes down before the reply, as a relay restarting does.
          for (const s of sockets) if (s.remotePort === session.remotePort) s.destroy();
          return;
        }
        if (sink.mode === 'never-answer') return;
        const answer = () => {
          sink.accepted.push(mail);
          callback();
        };
        if (options.replyDelayMs) setTimeout(answer, options.replyDelayMs);
        else answer();
      });
    },
  });
  server.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  sink.port = typeof address === 'object' && address ? address.port : 0;
  sink.url = `smtp://127.0.0.1:${sink.port}`;
  return sink;
}
