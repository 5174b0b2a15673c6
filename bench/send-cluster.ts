// `npm run bench:send -- [N] --workers 1,2,4 [--delay 20]`: several senders sharing one send (issue 13).
//
// For each worker count, a fresh copy of the same prepared database: one process plans the send
// (timed), then that many sender processes (the real pipeline, each its own process with the
// service's V8 flags) share it, against a sink that answers each message `--delay` ms after its
// data arrived, as a distant server does. Prints messages per second per worker count against the
// one-worker run of the same invocation (the baseline) and against the ideal
// `workers × SEND_CONCURRENCY / delay`, the peak RSS of each sender, and checks that every planned
// delivery reached the sink exactly once. No assertions: the targets are for reading.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NODE_FLAGS } from '../bin/node-flags.js';
import { dropSchema, schemaUrl } from './bench-postgres.js';
import { issueSource, prepareSubscribers, printRows, runWorker, startSink, type WorkerResult } from './send-setup.js';

export type BenchDialect = 'sqlite' | 'postgres';

export interface ClusterOptions {
  subscribers: number;
  workers: readonly number[];
  replyDelayMs: number;
  /** Where the senders share the send; PostgreSQL runs add one SQLite sender as the comparison. */
  db: BenchDialect;
  /** PostgreSQL's base URL (each run gets a schema of its own there), with `db: 'postgres'`. */
  postgresUrl?: string;
}

interface ClusterRun {
  dialect: BenchDialect;
  workers: number;
  plan: WorkerResult;
  senders: WorkerResult[];
  /** Wall time from starting the senders to the last one's exit (includes their start and editions). */
  seconds: number;
  atSink: { messages: number; firstAt: number; lastAt: number };
}

const fixed = (n: number, digits = 0) => n.toFixed(digits).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/**
 * One database to run on: a data folder, and on PostgreSQL a schema of its own in the base URL's
 * database (dropped afterwards), so runs never see each other's rows.
 */
interface RunDatabase {
  dir: string;
  url: string | undefined;
  drop(): Promise<void>;
}

let runsMade = 0;
function runDatabase(dialect: BenchDialect, postgresUrl: string | undefined): RunDatabase {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-bench-cluster-run-'));
  const schema = `bench_${process.pid}_${++runsMade}`;
  const url = dialect === 'postgres' && postgresUrl ? schemaUrl(postgresUrl, schema) : undefined;
  return {
    dir,
    url,
    async drop() {
      rmSync(dir, { recursive: true, force: true });
      if (url && postgresUrl) await dropSchema(postgresUrl, schema);
    },
  };
}

export async function runCluster(options: ClusterOptions): Promise<void> {
  const { subscribers: n, replyDelayMs } = options;
  // The one-worker run is the baseline every other count is compared with: always first.
  const counts = [1, ...options.workers.filter((w) => w !== 1)];
  const plannedRuns: { dialect: BenchDialect; workers: number }[] = [
    ...(options.db === 'postgres' ? [{ dialect: 'sqlite' as const, workers: 1 }] : []),
    ...counts.map((workers) => ({ dialect: options.db, workers })),
  ];
  const concurrency = Number(process.env.SEND_CONCURRENCY ?? 5);
  const source = issueSource();
  process.stdout.write(`Preparing ${fixed(n)} subscribers with random topic sets over ${source.name}…\n`);
  // SQLite: one prepared file, copied for each run. PostgreSQL: each run prepares its own schema.
  const sqliteBase = mkdtempSync(path.join(os.tmpdir(), 'newsletter-bench-cluster-'));
  const prepStarted = performance.now();
  const { slug } = await prepareSubscribers(sqliteBase, n, source.dir);
  const prepSeconds = (performance.now() - prepStarted) / 1000;
  const sink = await startSink(replyDelayMs);
  const runs: ClusterRun[] = [];
  try {
    for (const { dialect, workers } of plannedRuns) {
      const run = runDatabase(dialect, options.postgresUrl);
      try {
        if (run.url) await prepareSubscribers(run.dir, n, source.dir, run.url);
        else cpSync(sqliteBase, run.dir, { recursive: true });
        await sink.reset();
        const args = [run.dir, String(sink.port), slug];
        const plan = await runWorker(['plan', ...args], NODE_FLAGS, run.url);
        process.stdout.write(
          `  ${dialect}, ${workers} sender${workers === 1 ? '' : 's'}: planned ${plan.planned}, sending…\n`,
        );
        const started = performance.now();
        const senders = await Promise.all(
          Array.from({ length: workers }, () => runWorker(['newsletter', ...args], NODE_FLAGS, run.url)),
        );
        const seconds = (performance.now() - started) / 1000;
        runs.push({ dialect, workers, plan, senders, seconds, atSink: await sink.count() });
      } finally {
        await run.drop();
      }
    }
  } finally {
    await sink.stop();
    rmSync(sqliteBase, { recursive: true, force: true });
  }
  report(runs, { n, concurrency, replyDelayMs, prepSeconds });
}

export interface PlanOptions {
  /** List sizes, each prepared and planned in turn. */
  sizes: readonly number[];
  db: BenchDialect;
  postgresUrl?: string;
  /** After planning, one sender sends this many (at most) and stops: its peak RSS on that list. */
  sendFirst: number;
}

/**
 * `--plan-only`: for each list size, the time to plan the send (one process: `startSend`), then one
 * sender that sends the first `sendFirst` messages and stops, for its peak RSS: a sender's memory
 * must not grow with the list.
 */
export async function runPlanOnly(options: PlanOptions): Promise<void> {
  const source = issueSource();
  const sink = await startSink(0);
  const rows: [string, string, string][] = [];
  const peaks: number[] = [];
  try {
    for (const n of options.sizes) {
      const run = runDatabase(options.db, options.postgresUrl);
      try {
        process.stdout.write(`Preparing ${fixed(n)} subscribers on ${options.db}…\n`);
        const prepStarted = performance.now();
        const { slug } = await prepareSubscribers(run.dir, n, source.dir, run.url);
        const prepSeconds = (performance.now() - prepStarted) / 1000;
        const args = [run.dir, String(sink.port), slug];
        process.stdout.write(`  planning ${fixed(n)}…\n`);
        const plan = await runWorker(['plan', ...args], NODE_FLAGS, run.url);
        const first = Math.min(n, options.sendFirst);
        process.stdout.write(`  sending the first ${fixed(first)}…\n`);
        const sender = await runWorker(['newsletter', ...args, String(first)], NODE_FLAGS, run.url);
        peaks.push(sender.peakRssMb);
        rows.push(
          [`N=${fixed(n)}: preparing the subscribers`, `${prepSeconds.toFixed(1)} s`, 'not part of any figure'],
          ...planRows(plan, `N=${fixed(n)}: planning the send`),
          [
            `N=${fixed(n)}: one sender, first ${fixed(first)}`,
            `${sender.peakRssMb} MB`,
            `peak RSS; ${fixed(sender.sent)} sent at ${fixed(sender.perSecond)}/s (sink answers at once), heap ${sender.peakHeapTotalMb} MB, buffers ${sender.peakExternalMb} MB, MJML compiles ${sender.mjmlCompiles ?? 0}`,
          ],
        );
      } finally {
        await run.drop();
      }
    }
  } finally {
    await sink.stop();
  }
  process.stdout.write(
    `\nbench:send --plan-only  (node ${process.version}, ${os.cpus().length} CPUs, ${options.db === 'postgres' ? 'PostgreSQL' : 'SQLite'})\n`,
  );
  printRows(rows);
  const [smallest, largest] = [peaks[0], peaks.at(-1)];
  if (peaks.length > 1 && smallest && largest)
    process.stdout.write(
      `\n  target: the sender's peak RSS at the largest list within ±10% of the smallest's: ${((largest / smallest - 1) * 100).toFixed(1)}%\n`,
    );
  process.stdout.write('  target: planning 1,000,000 under 60 s\n');
}

function planRows(plan: WorkerResult, name = 'planning the send (1 process)'): [string, string, string][] {
  return [
    [
      name,
      `${plan.seconds.toFixed(2)} s`,
      `${fixed(plan.planned ?? 0)} deliveries, ${fixed(plan.perSecond)} per second, peak RSS ${plan.peakRssMb} MB`,
    ],
  ];
}

function report(
  runs: readonly ClusterRun[],
  context: { n: number; concurrency: number; replyDelayMs: number; prepSeconds: number },
): void {
  const { n, concurrency, replyDelayMs } = context;
  const rate = (run: ClusterRun) => run.atSink.messages / run.seconds;
  // Each run is compared with the one-sender run on its own database.
  const baseOf = (run: ClusterRun) => runs.find((r) => r.dialect === run.dialect && r.workers === 1) ?? run;
  const dialects = [...new Set(runs.map((r) => (r.dialect === 'postgres' ? 'PostgreSQL' : 'SQLite')))];
  const first = runs[0];
  if (!first) return;
  process.stdout.write(
    `\nbench:send --workers  N=${fixed(n)}  SEND_CONCURRENCY=${concurrency}  sink answers after ${replyDelayMs} ms` +
      `  (node ${process.version}, ${os.cpus().length} CPUs, ${dialects.join(' and ')})\n`,
  );
  const planned = first.plan.planned ?? 0;
  printRows([
    ['preparing the subscribers', `${context.prepSeconds.toFixed(1)} s`, 'SQLite; not part of any figure below'],
    ...runs
      .filter((r) => r.workers === 1)
      .flatMap((r) => planRows(r.plan, `planning the send (1 process, ${r.dialect})`)),
  ]);
  process.stdout.write('\n');
  const ideal = (workers: number) => (replyDelayMs > 0 ? (workers * concurrency * 1000) / replyDelayMs : Infinity);
  const rows: [string, string, string][] = [];
  for (const run of runs) {
    const steadySeconds = (run.atSink.lastAt - run.atSink.firstAt) / 1000;
    const steady = steadySeconds > 0 ? (run.atSink.messages - 1) / steadySeconds : 0;
    const sentBySenders = run.senders.reduce((sum, s) => sum + s.sent, 0);
    const peak = Math.max(...run.senders.map((s) => s.peakRssMb));
    const idealRate = ideal(run.workers);
    const checks: string[] = [];
    if (run.atSink.messages !== planned) checks.push(`the sink got ${run.atSink.messages} of ${planned}`);
    if (sentBySenders !== planned) checks.push(`the senders recorded ${sentBySenders} of ${planned}`);
    if (run.senders.some((s) => s.outcome !== 'finished' && s.outcome !== 'already-sent'))
      checks.push(`outcomes ${run.senders.map((s) => s.outcome).join(', ')}`);
    rows.push([
      `${run.dialect}, ${run.workers} sender${run.workers === 1 ? '' : 's'}: messages/s`,
      fixed(rate(run)),
      [
        `× 1 sender ${(rate(run) / rate(baseOf(run))).toFixed(2)}`,
        Number.isFinite(idealRate)
          ? `${Math.round((rate(run) / idealRate) * 100)}% of the ideal ${fixed(idealRate)}`
          : '',
        `at the sink first to last ${fixed(steady)}/s`,
        `${run.seconds.toFixed(1)} s incl. start and editions`,
        `peak RSS per sender ${peak} MB (${run.senders.map((s) => s.peakRssMb).join(', ')})`,
        `sent per sender ${run.senders.map((s) => s.sent).join(', ')}`,
        // startSend (the planning process) compiles the send's frame; senders read it (src/render/compiled-frames.ts).
        `MJML compiles in the senders ${run.senders.reduce((sum, s) => sum + (s.mjmlCompiles ?? 0), 0)}`,
        checks.length > 0 ? `WARNING: ${checks.join('; ')}` : 'each planned delivery sent once',
      ]
        .filter(Boolean)
        .join('; '),
    ]);
  }
  printRows(rows);
  const four = runs.find((r) => r.workers === 4);
  if (four)
    process.stdout.write(
      `\n  target: 4 senders at least 3× one sender's rate (${four.dialect}): ${(rate(four) / rate(baseOf(four))).toFixed(2)}×\n`,
    );
  process.stdout.write('  target: peak RSS per sender at most 200 MB\n');
}
