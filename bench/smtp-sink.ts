// A discard SMTP server for benchmarks, run as its own process so it does not share the
// sender's CPU core or event loop: accepts every message, throws the bytes away, counts.
//
//   node --import tsx bench/smtp-sink.ts [replyDelayMs]
//
// Prints `listening <port>` on stdout once ready. On stdin `count\n` it answers
// `count <messages> <bytes> <firstAt> <lastAt>` (when the first and last message's data arrived, ms
// since the epoch); `reset\n` zeroes the counters; `quit\n` exits.
import readline from 'node:readline';
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';

const replyDelayMs = Number(process.argv[2] ?? 0);
let messages = 0;
let bytes = 0;
let firstAt = 0;
let lastAt = 0;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  size: 50 * 1024 * 1024,
  maxClients: 1000,
  onData(stream: SMTPServerDataStream, _session, callback: (err?: Error | null) => void) {
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('end', () => {
      messages++;
      lastAt = Date.now();
      if (firstAt === 0) firstAt = lastAt;
      if (replyDelayMs > 0) setTimeout(() => callback(), replyDelayMs);
      else callback();
    });
  },
});

// A sender killed mid-message resets its connection; that is the sender's story, not the sink's end.
server.on('error', (error: Error) => process.stderr.write(`sink: ${error.message}\n`));

server.listen(0, '127.0.0.1', () => {
  const address = server.server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  const command = line.trim();
  if (command === 'count') process.stdout.write(`count ${messages} ${bytes} ${firstAt} ${lastAt}\n`);
  else if (command === 'reset') {
    messages = 0;
    bytes = 0;
    firstAt = 0;
    lastAt = 0;
    process.stdout.write('reset\n');
  } else if (command === 'quit') server.close(() => process.exit(0));
});
input.on('close', () => server.close(() => process.exit(0)));
