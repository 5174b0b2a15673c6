// npm run bench:memory — does the web server's memory level off under anonymous page requests?
//
// Issue 9 item 9: GETs over 30 sent issues × 45 topic combinations took RSS from 103 to 250 MB.
// Every page cache is bounded since (8 issue versions, 16 MiB of page HTML, 16 MiB of encoded
// bodies); this measures whether what the process holds stops growing. The server runs the built
// JavaScript in its own process with the service's V8 flags plus --expose-gc; after each round of
// requests (every issue in every one- and two-topic combination, half of them asking for gzip) it
// collects garbage twice and reports heapUsed, external memory and RSS. The baseline is the same
// process after its start and one request per issue, before the rounds. Memory has levelled off
// when each round's heap after GC is within 10 % of the round before it.
//
//   BENCH_ISSUES (30), BENCH_ROUNDS (5), BENCH_CONCURRENCY (4); BENCH_V8_DEFAULTS=1 starts the server
//   with Node's own V8 settings instead of the service's (bin/node-flags.js), for comparison
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './child-messages.js';

const ISSUES = Number(process.env.BENCH_ISSUES ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const SECRET_KEY = 'bench-secret-key-0123456789abcdef0123456789abcdef';
/** A round's heap after GC within this of the round before: levelled off. */
const LEVEL_TOLERANCE = 0.1;

interface Memory {
  type: 'memory';
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  maxRssKb: number;
  pageCache: { versions: number; pages: number; pageBytes: number };
}

// ---------------------------------------------------------------- server (child process)

async function runServer(): Promise<void> {
  const { loadConfig } = await import('../src/config/config.js');
  const { openServices } = await import('../src/app/services.js');
  const { createLogger } = await import('../src/log/logger.js');
  const { createWebApp } = await import('../src/web/server.js');
  const config = loadConfig({ DATA_DIR: process.env.DATA_DIR ?? '', SECRET_KEY, BASE_URL: 'http://127.0.0.1' });
  const services = await openServices(config, { logger: createLogger('silent') });
  const server = createWebApp(services).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  process.on('message', (message: { type: string }) => {
    if (message.type === 'measure') {
      // Twice: the first collection may leave what finalizers of the first freed.
      global.gc?.();
      global.gc?.();
      const m = process.memoryUsage();
      const reply: Memory = {
        type: 'memory',
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        rss: m.rss,
        maxRssKb: process.resourceUsage().maxRSS,
        pageCache: services.renderer.cacheSizes(),
      };
      process.send?.(reply);
    } else if (message.type === 'stop') {
      server.closeAllConnections();
      server.close();
      void services.close().then(() => process.exit(0));
    }
  });
  process.send?.({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
}

// ---------------------------------------------------------------- load generator (parent)

/** `ISSUES` sent copies of the project's long issue (9 sections), each under its own slug. */
async function prepareIssues(dataDir: string): Promise<{ slugs: string[]; topics: string[] }> {
  const { loadConfig } = await import('../src/config/config.js');
  const { openServices } = await import('../src/app/services.js');
  const { createLogger } = await import('../src/log/logger.js');
  const { importFolder } = await import('../src/content/import.js');
  const { writeLongIssue, writeLongIssueImages, LONG_ISSUE } = await import('../test/fixtures/long-issue.js');
  const config = loadConfig({ DATA_DIR: dataDir, SECRET_KEY });
  const services = await openServices(config, { logger: createLogger('silent') });
  const folder = writeLongIssue();
  writeLongIssueImages(config.mediaDir);
  const issueFile = path.join(folder, 'issue.md');
  const issueText = readFileSync(issueFile, 'utf8');
  const slugs: string[] = [];
  try {
    for (let i = 1; i <= ISSUES; i++) {
      const slug = `${LONG_ISSUE.slug}-${i}`;
      writeFileSync(issueFile, issueText.replace(`slug: "${LONG_ISSUE.slug}"`, `slug: "${slug}"`));
      await importFolder(services.db, folder);
      slugs.push(slug);
    }
    const now = new Date().toISOString();
    await services.db.updateTable('issues').set({ status: 'sent', sent_at: now, updated_at: now }).execute();
    const topics = (await services.db.selectFrom('topics').select('slug').orderBy('slug').execute()).map((t) => t.slug);
    return { slugs, topics };
  } finally {
    await services.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Every one- and two-topic combination: 9 topics give 45. */
function combinations(topics: string[]): string[] {
  const out: string[] = [];
  topics.forEach((a, i) => {
    out.push(a);
    for (const b of topics.slice(i + 1)) out.push(`${a},${b}`);
  });
  return out;
}

async function getAll(base: string, paths: string[]): Promise<void> {
  const queue = paths.map((p, i) => ({ p, gzip: i % 2 === 0 }));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const res = await fetch(base + next.p, { headers: { 'accept-encoding': next.gzip ? 'gzip' : 'identity' } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${next.p} answered ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function runBench(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-bench-memory-'));
  let child: ChildProcess | undefined;
  try {
    const { slugs, topics } = await prepareIssues(dataDir);
    const combos = combinations(topics);
    console.log(
      `bench:memory — ${os.cpus().length} CPUs, Node ${process.version}, ${slugs.length} issues × ${combos.length} topic combinations = ${slugs.length * combos.length} GETs a round, ${ROUNDS} rounds, ${CONCURRENCY} at a time`,
    );
    const { ensureBuilt } = await import('../bin/build.js');
    const { NODE_FLAGS } = await import('../bin/node-flags.js');
    const { dir } = await ensureBuilt();
    const server = fork(path.join(dir, 'bench', 'memory.bench.js'), ['--server'], {
      execArgv: [...(process.env.BENCH_V8_DEFAULTS === '1' ? [] : NODE_FLAGS), '--expose-gc'],
      env: { ...process.env, DATA_DIR: dataDir },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child = server;
    const { port } = await waitFor<{ type: 'ready'; port: number }>(server, 'ready');
    const base = `http://127.0.0.1:${port}`;
    const measure = async () => {
      server.send({ type: 'measure' });
      return waitFor<Memory>(server, 'memory');
    };

    await getAll(
      base,
      slugs.map((s) => `/issues/${s}`),
    );
    const baseline = await measure();
    const rows: Memory[] = [baseline];
    console.log(
      '\n| after | heapUsed after GC | × baseline | × round before | V8 heap reserved | external (of it buffers) | RSS | renderer: versions, pages, page MiB | round took |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    // A row as soon as it is measured: a long run shows its trend while it goes.
    const printRow = (label: string, m: Memory, before: Memory | undefined, seconds: number) =>
      console.log(
        `| ${label} | ${mb(m.heapUsed)} MB | ${(m.heapUsed / baseline.heapUsed).toFixed(2)} | ${before ? (m.heapUsed / before.heapUsed).toFixed(2) : '–'} | ${mb(m.heapTotal)} MB | ${mb(m.external)} (${mb(m.arrayBuffers)}) MB | ${mb(m.rss)} MB | ${m.pageCache.versions}, ${m.pageCache.pages}, ${mb(m.pageCache.pageBytes)} | ${seconds ? `${seconds.toFixed(1)} s` : '–'} |`,
      );
    printRow('baseline', baseline, undefined, 0);
    // Issue by issue, every combination of one issue before the next: how readers of an archive
    // page through it, and the renderer keeps only 8 issue versions.
    const paths = slugs.flatMap((s) => combos.map((c) => `/issues/${s}?topics=${c}`));
    for (let round = 1; round <= ROUNDS; round++) {
      const started = performance.now();
      await getAll(base, paths);
      const m = await measure();
      printRow(`round ${round}`, m, rows.at(-1), (performance.now() - started) / 1000);
      rows.push(m);
    }
    const last = rows.at(-1) ?? baseline;
    const secondLast = rows.at(-2) ?? baseline;
    const level = Math.abs(last.heapUsed / secondLast.heapUsed - 1) <= LEVEL_TOLERANCE;
    console.log(
      `\nPeak RSS ${mb(last.maxRssKb * 1024)} MB. Heap after GC in the last round ${level ? 'within' : 'NOT within'} ${LEVEL_TOLERANCE * 100} % of the round before: ${level ? 'levelled off' : 'still growing'}.`,
    );
    server.send({ type: 'stop' });
    await new Promise((resolve) => server.once('exit', resolve));
    child = undefined;
    if (!level) process.exitCode = 1;
  } finally {
    child?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--server')) await runServer();
else await runBench();
