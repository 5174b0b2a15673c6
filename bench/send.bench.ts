// npm run bench:send [N]                          (N subscribers, 20000 by default; try 100000)
// npm run bench:send -- [N] --workers 1,2,4 [--delay 20] [--db postgres]
//                                                  (several senders share one send: bench/send-cluster.ts)
// npm run bench:send -- N[,N…] --plan-only [--db postgres] [--send-first 20000]
//                                                  (time to plan a send to N, and a sender's peak RSS)
//
// --db postgres runs on BENCH_DATABASE_URL (or DATABASE_URL) when set, else on a throwaway
// PostgreSQL that pg_virtualenv starts and removes (bench/bench-postgres.ts); with --workers it runs
// SQLite with one sender first, in the same run, as the comparison.
// Without --workers: sends the issue to N subscribers with random topic sets, over SMTP on loopback
// to a discard sink running in its own process, and in the same run a baseline: plain pooled
// nodemailer sending prebuilt messages of the same size to the same kind of sink. Each sender
// runs in its own process so its peak RSS is measured alone. Prints messages per second, the ratio
// to the baseline, editions built, peak RSS and time to the first message. No assertions: targets
// (ratio >= 0.85, RSS <= 200 MB and flat from 20k to 100k, first message < 2 s) are for reading.
// The issue is the real sample when ../shared/sample is there, else the project's own long issue.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NODE_FLAGS } from '../bin/node-flags.js';
import { postgresForBench } from './bench-postgres.js';
import { runCluster, runPlanOnly } from './send-cluster.js';
import { issueSource, prepareSubscribers, runWorker, startSink } from './send-setup.js';

const usage =
  'usage: npm run bench:send -- [N[,N…]] [--workers 1,2,4] [--delay <ms the sink waits before answering>] [--db sqlite|postgres] [--plan-only [--send-first <messages>]]';
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workers: { type: 'string' },
    delay: { type: 'string' },
    'plan-only': { type: 'boolean' },
    db: { type: 'string', default: 'sqlite' },
    'send-first': { type: 'string', default: '20000' },
  },
});
const sizes = (positionals[0] ?? '20000').split(',').map(Number);
const N = sizes[0] ?? 0;
if (sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`${usage}   (N = number of subscribers)`);
if (sizes.length > 1 && !values['plan-only']) throw new Error(`${usage}   (several sizes go with --plan-only only)`);
const db = values.db;
if (db !== 'sqlite' && db !== 'postgres') throw new Error(`${usage}   (--db: sqlite or postgres)`);
const sendFirst = Number(values['send-first']);
if (!Number.isInteger(sendFirst) || sendFirst <= 0) throw new Error(`${usage}   (--send-first: messages, > 0)`);
const workerCounts = values.workers?.split(',').map(Number);
if (workerCounts?.some((w) => !Number.isInteger(w) || w <= 0))
  throw new Error(`${usage}   (--workers: sender counts separated by commas)`);
const replyDelayMs = Number(values.delay ?? (workerCounts ? 20 : 0));
if (!Number.isFinite(replyDelayMs) || replyDelayMs < 0) throw new Error(`${usage}   (--delay: milliseconds, >= 0)`);

if (workerCounts || values['plan-only'] || db === 'postgres') {
  const postgresUrl = db === 'postgres' ? postgresForBench() : undefined;
  // Without a URL, the benchmark ran again under pg_virtualenv and is over.
  if (db === 'postgres' && postgresUrl === undefined) process.exit();
  if (values['plan-only']) await runPlanOnly({ sizes, db, postgresUrl, sendFirst });
  else await runCluster({ subscribers: N, workers: workerCounts ?? [1], replyDelayMs, db, postgresUrl });
  process.exit(0);
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-bench-send-'));
try {
  const source = issueSource();
  process.stdout.write(`Preparing ${N} subscribers with random topic sets over ${source.name}…\n`);
  const { slug, topics } = await prepareSubscribers(dataDir, N, source.dir);
  const sink = await startSink(replyDelayMs);
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
