// npm run bench:send [N]  (N subscribers, 20000 by default; try 100000)
//
// Sends the shared sample issue to N subscribers with random topic sets, over SMTP on loopback to
// a discard sink running in its own process, and in the same run a baseline: plain pooled
// nodemailer sending prebuilt messages of the same size to the same kind of sink. Each sender
// runs in its own process so its peak RSS is measured alone. Prints messages per second, the ratio
// to the baseline, editions built, peak RSS and time to the first message. No assertions: targets
// (ratio >= 0.85, RSS <= 200 MB and flat from 20k to 100k, first message < 2 s) are for reading.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createLogger } from '../src/log/logger.js';
import { openServices } from '../src/app/services.js';
import { loadConfig, PROJECT_ROOT } from '../src/config/config.js';
import { importFolder } from '../src/content/import.js';
import { nowIso } from '../src/db/database.js';
import { newSubscriberUid } from '../subscribers/tokens.js';
import { ensureBuilt } from '../bin/build.js';
import { NODE_FLAGS } from '../bin/node-flags.js';

const N = Number(process.argv[2] ?? 20_000);
if (!Number.isInteger(N) || N <= 0) throw new Error('usage: npm run bench:send [N]   (N = number of subscribers)');
const SAMPLE_DIR = path.resolve(PROJECT_ROOT, '..', 'shared', 'sample', 'oct-nov-2020');

/** Seeded PRNG (mulberry32): the same subscribers on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function prepare(dataDir: string): Promise<{ slug: string; topics: number }> {
  const config = loadConfig({ DATA_DIR: dataDir, SECRET_KEY: 'bench-secret-key-0123456789abcdef0123456789abcdef' });
  const services = await openServices(config, { logger: createLogger('silent') });
  const { slug } = await importFolder(services.db, SAMPLE_DIR);
  const topicIds = (await services.db.selectFrom('topics').select('id').execute()).map((t) => t.id);
  const rand = random(42);
  const now = nowIso();
  // A fifth choose no topic (= whole issue); the rest pick one to three topics at random.
  for (let start = 0; start < N; start += 1000) {
    await services.db.transaction().execute(async (trx) => {
      const count = Math.min(1000, N - start);
      const rows = Array.from({ length: count }, (_, i) => ({
        uid: newSubscriberUid(),
        email: `reader${start + i}@example.net`,
        name: rand() < 0.7 ? `Reader ${start + i}` : '',
        status: 'active' as const,
        created_at: now,
        confirmed_at: now,
        unsubscribed_at: null,
        updated_at: now,
      }));
      const inserted = await trx.insertInto('subscribers').values(rows).returning('id').execute();
      const links: { subscriber_id: number; topic_id: number }[] = [];
      for (const { id } of inserted) {
        if (rand() < 0.2) continue;
        const want = 1 + Math.floor(rand() * 3);
        const chosen = new Set<number>();
        while (chosen.size < want) chosen.add(topicIds[Math.floor(rand() * topicIds.length)] as number);
        for (const topic_id of chosen) links.push({ subscriber_id: id, topic_id });
      }
      for (let i = 0; i < links.length; i += 300)
        await trx
          .insertInto('subscriber_topics')
          .values(links.slice(i, i + 300))
          .execute();
    });
  }
  await services.close();
  return { slug, topics: topicIds.length };
}

interface Sink {
  port: number;
  count(): Promise<{ messages: number; bytes: number }>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

// The sink and the senders run the built JavaScript, as `newsletter send` does: no TypeScript
// loader thread in the processes measured. Ours runs with the V8 flags the service ships with.
const { dir: DIST_DIR } = await ensureBuilt();
function builtArgs(file: string, args: string[], nodeFlags: readonly string[] = []): string[] {
  return [...nodeFlags, path.join(DIST_DIR, 'bench', file), ...args];
}

async function startSink(): Promise<Sink> {
  const child = spawn(process.execPath, builtArgs('smtp-sink.js', []), { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const nextLine = () => new Promise<string>((resolve) => waiting.push(resolve));
  const port = Number((await nextLine()).split(' ')[1]);
  const ask = async (command: string) => {
    const reply = nextLine();
    child.stdin.write(`${command}\n`);
    return reply;
  };
  return {
    port,
    async count() {
      const [, messages, bytes] = (await ask('count')).split(' ');
      return { messages: Number(messages), bytes: Number(bytes) };
    },
    async reset() {
      await ask('reset');
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end('quit\n');
      }),
  };
}

interface WorkerResult {
  mode: string;
  sent: number;
  seconds: number;
  perSecond: number;
  cpuSeconds: number;
  peakHeapTotalMb: number;
  peakExternalMb: number;
  firstMessageMs: number | null;
  peakRssMb: number;
  editionsBuilt?: number;
  mjmlCompiles?: number;
  outcome?: string;
}

async function runWorker(args: string[], nodeFlags: readonly string[] = []): Promise<WorkerResult> {
  const child = spawn(process.execPath, builtArgs('send-worker.js', args, nodeFlags), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`send-worker ${args[0]} exited with ${code}: ${out}`);
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as WorkerResult;
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-bench-send-'));
try {
  process.stdout.write(`Preparing ${N} subscribers with random topic sets over the sample issue…\n`);
  const { slug, topics } = await prepare(dataDir);
  const sink = await startSink();
  try {
    const ours = await runWorker(['newsletter', dataDir, String(sink.port), slug], NODE_FLAGS);
    const oursAtSink = await sink.count();
    await sink.reset();
    // The baseline's rate is steady after warm-up; beyond 20,000 messages it only costs time.
    const baselineCount = Math.min(ours.sent, 20_000);
    const baseline = await runWorker(['baseline', dataDir, String(sink.port), slug, String(baselineCount)]);
    const baselineAtSink = await sink.count();
    // Like for like: the same plain nodemailer pool on TCP_NODELAY connections, as ours uses. It runs
    // on Node's default V8 flags: ours (a small young generation) cost its large per-message
    // allocations about 30% more CPU, and a baseline should not be slowed by our choice.
    const tuned = await runWorker(['baseline', dataDir, String(sink.port), slug, String(baselineCount), 'nodelay']);

    const ratio = ours.perSecond / baseline.perSecond;
    const avgKb = (b: { messages: number; bytes: number }) => (b.messages > 0 ? b.bytes / b.messages / 1024 : 0);
    const concurrency = process.env.SEND_CONCURRENCY ?? '5';
    const rows = [
      ['subscribers', String(N), `${topics} topics, random sets`],
      ['SEND_CONCURRENCY', concurrency, `sender runs: node ${NODE_FLAGS.join(' ')}`],
      [
        'newsletter: messages sent',
        String(ours.sent),
        `sink counted ${oursAtSink.messages}, avg ${avgKb(oursAtSink).toFixed(1)} KB`,
      ],
      ['newsletter: messages/s', ours.perSecond.toFixed(0), `${ours.seconds.toFixed(2)} s incl. planning and editions`],
      [
        'baseline (plain nodemailer pool): messages/s',
        baseline.perSecond.toFixed(0),
        `${baseline.sent} messages in ${baseline.seconds.toFixed(2)} s, avg ${avgKb(baselineAtSink).toFixed(1)} KB`,
      ],
      ['ratio to baseline', ratio.toFixed(2), 'target >= 0.85'],
      [
        'baseline on TCP_NODELAY connections: messages/s',
        tuned.perSecond.toFixed(0),
        `ratio ${(ours.perSecond / tuned.perSecond).toFixed(2)} (same transport as ours: what the pipeline itself adds)`,
      ],
      [
        'sender CPU per message',
        `${((ours.cpuSeconds * 1000) / Math.max(1, ours.sent)).toFixed(2)} ms`,
        `baseline: ${((baseline.cpuSeconds * 1000) / Math.max(1, baseline.sent)).toFixed(2)} ms, on TCP_NODELAY: ${((tuned.cpuSeconds * 1000) / Math.max(1, tuned.sent)).toFixed(2)} ms`,
      ],
      [
        'editions built (distinct topic sets)',
        String(ours.editionsBuilt ?? '?'),
        `MJML compiles: ${ours.mjmlCompiles ?? '?'}`,
      ],
      [
        'peak RSS of the sender',
        `${ours.peakRssMb} MB`,
        `heap ${ours.peakHeapTotalMb} MB, buffers ${ours.peakExternalMb} MB; baseline process: ${baseline.peakRssMb} MB; target <= 200 MB`,
      ],
      ['time to first message', `${ours.firstMessageMs ?? '?'} ms`, 'target < 2000 ms'],
    ];
    const width = Math.max(...rows.map((r) => (r[0] ?? '').length));
    process.stdout.write(`\nbench:send  N=${N}  (node ${process.version}, ${os.cpus().length} CPUs)\n`);
    for (const [name, value, note] of rows)
      process.stdout.write(`  ${(name ?? '').padEnd(width)}  ${(value ?? '').padStart(10)}  ${note ?? ''}\n`);
    if (ours.outcome !== 'finished') process.stdout.write(`  WARNING: the send ended ${ours.outcome}\n`);
  } finally {
    await sink.stop();
  }
} finally {
  // BENCH_KEEP=1 keeps the data folder, to rerun bench/send-worker.ts on it (e.g. with --cpu-prof).
  if (process.env.BENCH_KEEP === '1') process.stdout.write(`kept ${dataDir}\n`);
  else rmSync(dataDir, { recursive: true, force: true });
}
