// What both send benchmarks share (bench/send.bench.ts): the subscribers, the sink, the sender
// processes. Everything measured runs the built JavaScript in its own process, as `newsletter send`
// does, so no TypeScript loader thread is in the figures and each process's peak RSS is its own.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createLogger } from '../src/log/logger.js';
import { openServices } from '../src/app/services.js';
import { loadConfig, PROJECT_ROOT } from '../src/config/config.js';
import { importFolder } from '../src/content/import.js';
import { nowIso } from '../src/db/database.js';
import { newSubscriberUid } from '../subscribers/tokens.js';
import { ensureBuilt } from '../bin/build.js';
import { writeLongIssue } from '../test/fixtures/long-issue.js';

export const BENCH_SECRET_KEY = 'bench-secret-key-0123456789abcdef0123456789abcdef';

const SAMPLE_DIR = path.resolve(PROJECT_ROOT, '..', 'shared', 'sample', 'oct-nov-2020');

/** The real sample issue when it is beside the project, else the project's own long issue. */
export function issueSource(): { dir: string; name: string } {
  if (existsSync(SAMPLE_DIR)) return { dir: SAMPLE_DIR, name: 'the sample issue' };
  return { dir: writeLongIssue(), name: "the project's long issue (../shared/sample is absent)" };
}

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

/**
 * Imports the issue and `n` active subscribers with random topic sets into `dataDir`'s database,
 * or into the PostgreSQL database `databaseUrl` names.
 */
export async function prepareSubscribers(
  dataDir: string,
  n: number,
  issueDir: string,
  databaseUrl?: string,
): Promise<{ slug: string; topics: number }> {
  const config = loadConfig({
    DATA_DIR: dataDir,
    SECRET_KEY: BENCH_SECRET_KEY,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const services = await openServices(config, { logger: createLogger('silent') });
  const { slug } = await importFolder(services.db, issueDir);
  const topicIds = (await services.db.selectFrom('topics').select('id').execute()).map((t) => t.id);
  const rand = random(42);
  const now = nowIso();
  // A fifth choose no topic (= whole issue); the rest pick one to three topics at random.
  for (let start = 0; start < n; start += 1000) {
    await services.db.transaction().execute(async (trx) => {
      const count = Math.min(1000, n - start);
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
      for (let i = 0; i < links.length; i += 3000)
        await trx
          .insertInto('subscriber_topics')
          .values(links.slice(i, i + 3000))
          .execute();
    });
  }
  await services.close();
  return { slug, topics: topicIds.length };
}

export interface SinkCount {
  messages: number;
  bytes: number;
  /** When the first and the last message's data arrived (ms since the epoch; 0 before any). */
  firstAt: number;
  lastAt: number;
}

export interface Sink {
  port: number;
  count(): Promise<SinkCount>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const built = await ensureBuilt();

function builtArgs(file: string, args: string[], nodeFlags: readonly string[] = []): string[] {
  return [...nodeFlags, path.join(built.dir, 'bench', file), ...args];
}

/** The discarding SMTP sink (bench/smtp-sink.ts) in its own process; answers each message after `replyDelayMs`. */
export async function startSink(replyDelayMs = 0): Promise<Sink> {
  const child = spawn(process.execPath, builtArgs('smtp-sink.js', [String(replyDelayMs)]), {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
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
      const [, messages, bytes, firstAt, lastAt] = (await ask('count')).split(' ').map(Number);
      return { messages: messages ?? 0, bytes: bytes ?? 0, firstAt: firstAt ?? 0, lastAt: lastAt ?? 0 };
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

/** What bench/send-worker.ts prints (one JSON line); fields depend on the mode. */
export interface WorkerResult {
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
  planned?: number;
}

/**
 * Runs bench/send-worker.ts (built) in its own process and returns its figures; on the PostgreSQL
 * database `databaseUrl` when given, else on SQLite in the data folder of `args`.
 */
export async function runWorker(
  args: string[],
  nodeFlags: readonly string[] = [],
  databaseUrl?: string,
): Promise<WorkerResult> {
  const env = { ...process.env, BENCH_WORKER_DATABASE_URL: databaseUrl ?? '' };
  const child = spawn(process.execPath, builtArgs('send-worker.js', args, nodeFlags), {
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`send-worker ${args[0]} exited with ${code}: ${out}`);
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as WorkerResult;
}

/** Prints rows of (name, value, note) as an aligned table. */
export function printRows(rows: readonly (readonly [string, string, string])[]): void {
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(10, ...rows.map((r) => r[1].length));
  for (const [name, value, note] of rows)
    process.stdout.write(`  ${name.padEnd(width)}  ${value.padStart(valueWidth)}  ${note}\n`);
}
