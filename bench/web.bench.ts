// npm run bench:web — throughput and latency of the public pages, on loopback.
//
// The server runs in a child process (so the load generator does not share its event loop) with
// a fresh SQLite file, the shared sample issue marked as sent and BENCH_SUBSCRIBERS active
// subscribers. autocannon then measures, one after the other:
//   baseline      a trivial route answering "ok" (no middleware): what this machine can do at all
//   healthz       GET /healthz through the full middleware stack (one `select 1`)
//   issue         GET /issues/:slug — the whole issue's web version, from the renderer's cache
//   issue (gzip)  the same with `Accept-Encoding: gzip` (what browsers send; compressed once, cached)
//   edition       GET /issues/:slug?topics=… — one edition, from the cache
//   one-click     POST /unsubscribe?token=… with `List-Unsubscribe=One-Click`, a different
//                 subscriber per request (each one a real unsubscribe: token check, update, consent log)
//   redirect      GET /r/<token>: a tracked link of the whole issue's email (issue 15), a different
//                 link and message per request; each a 302 and a click counted in the background
// and prints requests/second, latency p50/p99, the ratio to the baseline, and the server's peak RSS.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import express from 'express';
import { PROJECT_ROOT } from '../src/config/config.js';
import { waitFor } from './child-messages.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 40_000);
const SAMPLE_DIR = path.resolve(PROJECT_ROOT, '..', 'shared', 'sample', 'oct-nov-2020');

interface Ready {
  type: 'ready';
  port: number;
  slug: string;
  topic: string;
  tokens: string[];
  clickPaths: string[];
  rssAtReadyKb: number;
}
interface Stopped {
  type: 'stopped';
  maxRssKb: number;
  unsubscribed: number;
  consentEntries: number;
  clicks: number;
  machineClicks: number;
}

// ---------------------------------------------------------------- server (child process)

async function runServer(): Promise<void> {
  const { loadConfig } = await import('../src/config/config.js');
  const { openServices } = await import('../src/app/services.js');
  const { createLogger } = await import('../src/log/logger.js');
  const { importFolder } = await import('../src/content/import.js');
  const { createWebApp } = await import('../src/web/server.js');
  const { newSubscriberUid, createTokens } = await import('../subscribers/tokens.js');
  const { listTopics } = await import('../src/content/content-repository.js');
  const { EditionTracker } = await import('../src/tracking/edition-tracker.js');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-bench-'));
  const config = loadConfig({
    DATA_DIR: dir,
    SECRET_KEY: 'bench-secret-0123456789abcdef0123456789',
    BASE_URL: 'http://127.0.0.1',
  });
  const services = await openServices(config, { logger: createLogger('silent') });
  const { slug } = await importFolder(services.db, SAMPLE_DIR);
  const now = new Date().toISOString();
  await services.db
    .updateTable('issues')
    .set({ status: 'sent', sent_at: now, updated_at: now })
    .where('slug', '=', slug)
    .execute();
  const topics = await listTopics(services.db);
  const topic = topics.find((t) => t.slug === 'big-data')?.slug ?? topics[0]?.slug ?? '';

  // Subscribers in bulk (the bench measures the web, not sign-up).
  const signer = createTokens(config.secretKey);
  const tokens: string[] = [];
  await services.db.transaction().execute(async (trx) => {
    for (let i = 0; i < SUBSCRIBERS; i += 500) {
      const rows = [];
      for (let j = i; j < Math.min(i + 500, SUBSCRIBERS); j++) {
        const uid = newSubscriberUid();
        tokens.push(signer.sign('unsubscribe', uid));
        rows.push({
          uid,
          email: `reader${j}@bench.example`,
          name: `Reader ${j}`,
          status: 'active' as const,
          created_at: now,
          confirmed_at: now,
          unsubscribed_at: null,
          updated_at: now,
        });
      }
      await trx.insertInto('subscribers').values(rows).execute();
    }
  });

  // The whole issue's email as a send makes it at the default level: every link tracked; the
  // messages "sent" an hour ago (so no click is a scanner's by time alone), one tag per reader.
  const issueId = (
    await services.db.selectFrom('issues').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()
  ).id;
  const tracker = new EditionTracker(
    {
      db: services.db,
      baseUrl: config.baseUrl,
      secretKey: config.secretKey,
      settings: { level: 'aggregate', trackOpens: false },
    },
    issueId,
  );
  const tracked = await tracker.track(await services.renderer.edition(slug, null));
  const clickPaths: string[] = [];
  for (let reader = 0; reader < 200; reader++) {
    const trackingTag = tracker.tagFor({ id: reader }, false, new Date(Date.now() - 3_600_000 - reader * 1000));
    const { html } = tracked.fill({ ...services.renderer.previewFields(slug, null), trackingTag });
    for (const m of html.matchAll(/href="[^"]*?(\/r\/[A-Za-z0-9_.-]+)"/g)) clickPaths.push(m[1] as string);
  }

  // The baseline route sits in front of the real app, outside its middleware.
  const outer = express();
  outer.get('/bench-baseline', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  outer.use(createWebApp(services));
  const server = outer.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const stop = async () => {
    server.closeAllConnections();
    server.close();
    const unsubscribed = await services.db
      .selectFrom('subscribers')
      .select(({ fn }) => fn.countAll<number>().as('n'))
      .where('status', '=', 'unsubscribed')
      .executeTakeFirstOrThrow();
    const consent = await services.db
      .selectFrom('consent_log')
      .select(({ fn }) => fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    // What the redirects queued is written at stop, as `serve` does on SIGTERM.
    await services.clicks.stop();
    const links = await services.db.selectFrom('tracked_links').select(['clicks', 'machine_clicks']).execute();
    await services.close();
    rmSync(dir, { recursive: true, force: true });
    const stopped: Stopped = {
      type: 'stopped',
      maxRssKb: process.resourceUsage().maxRSS,
      unsubscribed: Number(unsubscribed.n),
      consentEntries: Number(consent.n),
      clicks: links.reduce((n, l) => n + l.clicks, 0),
      machineClicks: links.reduce((n, l) => n + l.machine_clicks, 0),
    };
    process.send?.(stopped, () => process.exit(0));
  };
  process.on('message', (message: { type: string }) => {
    if (message.type === 'stop') void stop();
  });
  global.gc?.();
  const ready: Ready = {
    type: 'ready',
    port,
    slug,
    topic,
    tokens,
    clickPaths,
    rssAtReadyKb: Math.round(process.memoryUsage().rss / 1024),
  };
  process.send?.(ready);
}

// ---------------------------------------------------------------- load generator (parent)

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  total: number;
}

async function measure(name: string, options: autocannon.Options): Promise<Row> {
  const result = await autocannon({ connections: CONNECTIONS, duration: DURATION, ...options });
  return {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
  };
}

async function runBench(): Promise<void> {
  console.log(
    `bench:web — ${os.cpus().length} CPUs, Node ${process.version}, ${CONNECTIONS} connections, ${DURATION}s per scenario, ${SUBSCRIBERS} subscribers`,
  );
  // The server runs the built JavaScript with the service's V8 flags, as `npm start` does (this
  // file's built copy has no bin/ beside it, hence the imports here).
  const { ensureBuilt } = await import('../bin/build.js');
  const { NODE_FLAGS } = await import('../bin/node-flags.js');
  const { dir } = await ensureBuilt();
  const child = fork(path.join(dir, 'bench', 'web.bench.js'), ['--server'], {
    execArgv: NODE_FLAGS,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await waitFor<Ready>(child, 'ready');
  const base = `http://127.0.0.1:${ready.port}`;
  const issuePath = `/issues/${ready.slug}`;
  const editionPath = `${issuePath}?topics=${ready.topic}`;
  // First requests render and cache the pages; the bench measures what readers get afterwards.
  for (const p of [issuePath, editionPath]) {
    const res = await fetch(base + p);
    if (res.status !== 200) throw new Error(`${p} answered ${res.status}`);
    await res.arrayBuffer();
  }
  const pageBytes = (await (await fetch(base + issuePath)).arrayBuffer()).byteLength;

  let next = 0;
  const rows: Row[] = [];
  rows.push(await measure('baseline (trivial route)', { url: `${base}/bench-baseline` }));
  rows.push(await measure('GET /healthz', { url: `${base}/healthz` }));
  rows.push(await measure(`GET ${issuePath}`, { url: base + issuePath }));
  rows.push(
    await measure(`GET ${issuePath} (gzip)`, { url: base + issuePath, headers: { 'accept-encoding': 'gzip' } }),
  );
  rows.push(await measure(`GET ${editionPath}`, { url: base + editionPath }));
  rows.push(
    await measure('POST /unsubscribe (one-click)', {
      url: base,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'List-Unsubscribe=One-Click',
          setupRequest: (request) => ({
            ...request,
            path: `/unsubscribe?token=${ready.tokens[next++ % ready.tokens.length]}`,
          }),
        },
      ],
    }),
  );

  let nextClick = 0;
  rows.push(
    await measure('GET /r/<token> (tracked link, 302)', {
      url: base,
      requests: [
        {
          method: 'GET',
          headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' },
          setupRequest: (request) => ({ ...request, path: ready.clickPaths[nextClick++ % ready.clickPaths.length] }),
        },
      ],
    }),
  );

  child.send({ type: 'stop' });
  const stopped = await waitFor<Stopped>(child, 'stopped');

  const baseline = rows[0]?.rps ?? 1;
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log('');
  console.log(
    `${pad('scenario', 52)}${pad('req/s', 10)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}${pad('× baseline', 12)}non-2xx/errors`,
  );
  for (const r of rows) {
    console.log(
      `${pad(r.name, 52)}${pad(r.rps.toFixed(0), 10)}${pad(String(r.p50), 8)}${pad(String(r.p99), 8)}${pad((r.rps / baseline).toFixed(2), 12)}${r.non2xx}/${r.errors}`,
    );
  }
  const issue = rows[2];
  console.log('');
  console.log(`web version: ${(pageBytes / 1024).toFixed(0)} KiB per page`);
  console.log(
    `one-click: ${rows[5]?.total ?? 0} POSTs, ${stopped.unsubscribed} subscribers unsubscribed, ${stopped.consentEntries} consent-log entries`,
  );
  console.log(
    `server RSS when ready: ${(ready.rssAtReadyKb / 1024).toFixed(0)} MiB; server peak RSS: ${(stopped.maxRssKb / 1024).toFixed(0)} MiB; load generator peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  );
  const redirect = rows[6];
  if (redirect) {
    console.log(
      `redirect: ${redirect.total} requests (${redirect.non2xx} answered 302, as they should), ${stopped.clicks + stopped.machineClicks} clicks written (${stopped.clicks} as readers', ${stopped.machineClicks} as machines': one address following many links of a message at once)`,
    );
    const ok = redirect.rps >= 5000 && redirect.p99 < 20;
    console.log(
      `target for /r/<token> (≥ 5,000 req/s, p99 < 20 ms): ${ok ? 'met' : 'NOT met'} (${redirect.rps.toFixed(0)} req/s, p99 ${redirect.p99} ms; ${(redirect.rps / (rows[1]?.rps ?? 1)).toFixed(2)} × /healthz)`,
    );
  }
  if (issue) {
    const ok = issue.rps >= 1500 && issue.p99 < 50;
    console.log(
      `target for /issues/:slug (≥ 1,500 req/s, p99 < 50 ms): ${ok ? 'met' : 'NOT met'} (${issue.rps.toFixed(0)} req/s, p99 ${issue.p99} ms)`,
    );
  }
}

if (process.argv.includes('--server')) {
  runServer().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  runBench().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
