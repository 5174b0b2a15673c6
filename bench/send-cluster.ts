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
import { issueSource, prepareSubscribers, printRows, runWorker, startSink, type WorkerResult } from './send-setup.js';

export interface ClusterOptions {
  subscribers: number;
  workers: readonly number[];
  replyDelayMs: number;
  /** Only time the planning (for list sizes whose send would take too long here). */
  planOnly?: boolean;
}

interface ClusterRun {
  workers: number;
  plan: WorkerResult;
  senders: WorkerResult[];
  /** Wall time from starting the senders to the last one's exit (includes their start and editions). */
  seconds: number;
  atSink: { messages: number; firstAt: number; lastAt: number };
}

const fixed = (n: number, digits = 0) => n.toFixed(digits).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

export async function runCluster(options: ClusterOptions): Promise<void> {
  const { subscribers: n, replyDelayMs } = options;
  // The one-worker run is the baseline every other count is compared with: always first.
  const counts = [1, ...options.workers.filter((w) => w !== 1)];
  const concurrency = Number(process.env.SEND_CONCURRENCY ?? 5);
  const baseDir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-bench-cluster-'));
  try {
    const source = issueSource();
    process.stdout.write(`Preparing ${fixed(n)} subscribers with random topic sets over ${source.name}…\n`);
    const prepStarted = performance.now();
    const { slug } = await prepareSubscribers(baseDir, n, source.dir);
    const prepSeconds = (performance.now() - prepStarted) / 1000;
    if (options.planOnly) {
      const plan = await runWorker(['plan', baseDir, '25', slug], NODE_FLAGS);
      process.stdout.write(
        `\nbench:send --plan-only  N=${fixed(n)}  (node ${process.version}, ${os.cpus().length} CPUs, SQLite)\n`,
      );
      printRows(planRows(plan, prepSeconds));
      return;
    }
    const sink = await startSink(replyDelayMs);
    const runs: ClusterRun[] = [];
    try {
      for (const workers of counts) {
        const runDir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-bench-cluster-run-'));
        try {
          cpSync(baseDir, runDir, { recursive: true });
          await sink.reset();
          const args = [runDir, String(sink.port), slug];
          const plan = await runWorker(['plan', ...args], NODE_FLAGS);
          process.stdout.write(`  ${workers} sender${workers === 1 ? '' : 's'}: planned ${plan.planned}, sending…\n`);
          const started = performance.now();
          const senders = await Promise.all(
            Array.from({ length: workers }, () => runWorker(['newsletter', ...args], NODE_FLAGS)),
          );
          const seconds = (performance.now() - started) / 1000;
          runs.push({ workers, plan, senders, seconds, atSink: await sink.count() });
        } finally {
          rmSync(runDir, { recursive: true, force: true });
        }
      }
    } finally {
      await sink.stop();
    }
    report(runs, { n, concurrency, replyDelayMs, prepSeconds });
  } finally {
    rmSync(baseDir, { recursive: true, force: true });
  }
}

function planRows(plan: WorkerResult, prepSeconds: number): [string, string, string][] {
  return [
    ['preparing the subscribers', `${prepSeconds.toFixed(1)} s`, 'not part of any figure below'],
    [
      'planning the send (1 process)',
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
  const base = runs[0];
  if (!base) return;
  process.stdout.write(
    `\nbench:send --workers  N=${fixed(n)}  SEND_CONCURRENCY=${concurrency}  sink answers after ${replyDelayMs} ms` +
      `  (node ${process.version}, ${os.cpus().length} CPUs, SQLite)\n`,
  );
  const planned = base.plan.planned ?? 0;
  printRows(planRows(base.plan, context.prepSeconds));
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
      `${run.workers} sender${run.workers === 1 ? '' : 's'}: messages/s`,
      fixed(rate(run)),
      [
        `× 1 sender ${(rate(run) / rate(base)).toFixed(2)}`,
        Number.isFinite(idealRate)
          ? `${Math.round((rate(run) / idealRate) * 100)}% of the ideal ${fixed(idealRate)}`
          : '',
        `at the sink first to last ${fixed(steady)}/s`,
        `${run.seconds.toFixed(1)} s incl. start and editions`,
        `peak RSS per sender ${peak} MB (${run.senders.map((s) => s.peakRssMb).join(', ')})`,
        `sent per sender ${run.senders.map((s) => s.sent).join(', ')}`,
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
      `\n  target: 4 senders at least 3× one sender's rate: ${(rate(four) / rate(base)).toFixed(2)}×\n`,
    );
  process.stdout.write('  target: peak RSS per sender at most 200 MB\n');
}
