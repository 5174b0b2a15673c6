import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { createSubscribers } from '../../subscribers/subscriber-repository.js';
import { signToken } from '../../subscribers/tokens.js';
import { addEditor, Client as AdminClient, EDITOR_PASSWORD } from '../editors/admin-helpers.js';
import { ROOT, startChildServer, type ChildServer } from '../helpers/child-server.js';
import { eventually } from '../helpers/eventually.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// Issue 9 item 3: while 100,000 rows are imported (by the CLI in another process, or uploaded to
// the editors' app of the same server), 100 one-click unsubscribes all succeed and take effect, and
// /healthz keeps answering. A real server and a real CLI as child processes, one real SQLite file.
//
// The targets are p99 under 1 s for the unsubscribes and /healthz under 200 ms. The
// machine running the suite is shared and often loaded, so the test prints what it measured (the
// README keeps the figures) and asserts what must hold whatever the load: every unsubscribe answers
// 200 and takes effect, /healthz never fails, and no request waits for the whole import. Before the
// fix, 5 of 6 unsubscribes answered 500 and /healthz took 3-15 s.

const ROWS = 100_000;
const LEAVERS = 100;

let temp: TempEnv;
let services: Services;
let server: ChildServer;

function bigCsv(name: string, prefix: string): string {
  const lines = ['email,name,topics'];
  for (let i = 0; i < ROWS; i++) lines.push(`${prefix}${i}@example.org,N${i},${i % 3 ? 'editions' : ''}`);
  const file = path.join(temp.dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const leaverEmail = (group: string, i: number) => `leaver-${group}-${i}@example.org`;

async function statusesOf(group: string): Promise<Map<string, string>> {
  const rows = await services.db
    .selectFrom('subscribers')
    .select(['email', 'status'])
    .where('email', 'like', `leaver-${group}-%`)
    .execute();
  return new Map(rows.map((r) => [r.email, r.status]));
}

async function countSubscribers(): Promise<number> {
  const row = await services.db
    .selectFrom('subscribers')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

interface LoadResult {
  statuses: number[];
  postMs: number[];
}

interface HealthPolls {
  ms: number[];
  failures: number;
  stop(): Promise<void>;
}

/** /healthz polled every 25 ms until stopped (from the start of the import to its end). */
function pollHealth(): HealthPolls {
  let polling = true;
  const polls: HealthPolls = {
    ms: [],
    failures: 0,
    stop: async () => {
      polling = false;
      await loop;
    },
  };
  const loop = (async () => {
    while (polling) {
      const started = performance.now();
      const res = await fetch(`${server.url}/healthz`).catch(() => null);
      polls.ms.push(performance.now() - started);
      if (res?.status !== 200) polls.failures++;
      await res?.text();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  return polls;
}

/** 100 one-click POSTs from 10 clients at once. */
async function unsubscribeUnderLoad(group: string): Promise<LoadResult> {
  const result: LoadResult = { statuses: [], postMs: [] };
  const queue = Array.from({ length: LEAVERS }, (_, i) => i);
  const uids = new Map(
    (
      await services.db
        .selectFrom('subscribers')
        .select(['email', 'uid'])
        .where('email', 'like', `leaver-${group}-%`)
        .execute()
    ).map((r) => [r.email, r.uid]),
  );
  const client = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const token = signToken(temp.config.secretKey, 'unsubscribe', uids.get(leaverEmail(group, i)) as string);
      const started = performance.now();
      const res = await fetch(`${server.url}/unsubscribe?token=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      });
      await res.text();
      result.postMs.push(performance.now() - started);
      result.statuses.push(res.status);
    }
  };
  await Promise.all(Array.from({ length: 10 }, client));
  return result;
}

/** /healthz with nothing else going on: what this machine's load alone costs a request. */
async function quietHealth(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const started = performance.now();
    await (await fetch(`${server.url}/healthz`)).text();
    times.push(performance.now() - started);
  }
  return percentile(times, 50);
}

/** What the same requests cost on this machine just before the import: the figures' baseline. */
interface Quiet {
  oneClick: LoadResult;
  healthMs: number;
}

async function quietBaseline(group: string): Promise<Quiet> {
  return { healthMs: await quietHealth(), oneClick: await unsubscribeUnderLoad(group) };
}

function report(
  label: string,
  r: LoadResult,
  health: HealthPolls,
  quiet: Quiet,
  importMs: number,
  importRunningThroughout: boolean,
): void {
  const f = (n: number) => `${Math.round(n)} ms`;
  const p99 = percentile(r.postMs, 99);
  const quietP99 = percentile(quiet.oneClick.postMs, 99);
  console.log(
    `${label}: one-click p50 ${f(percentile(r.postMs, 50))}, p99 ${f(p99)}, max ${f(Math.max(...r.postMs))} ` +
      `(before the import p50 ${f(percentile(quiet.oneClick.postMs, 50))}, p99 ${f(quietP99)}: p99 ×${(p99 / quietP99).toFixed(1)}); ` +
      `/healthz during the import ${health.ms.length} polls, p50 ${f(percentile(health.ms, 50))}, p99 ${f(percentile(health.ms, 99))}, max ${f(Math.max(...health.ms))} ` +
      `(p50 ${f(quiet.healthMs)} before the import); import ${(importMs / 1000).toFixed(1)} s, still running when the last unsubscribe answered: ${importRunningThroughout}`,
  );
}

async function expectAllUnsubscribed(group: string, r: LoadResult, health: HealthPolls): Promise<void> {
  expect(r.statuses).toEqual(Array.from({ length: LEAVERS }, () => 200));
  // Applied at once or, when applying had to wait too long, recorded and applied by the server's
  // retry within seconds.
  await eventually(
    `all ${group} leavers to be unsubscribed and nothing left to retry`,
    async () => ({
      stillSubscribed: [...(await statusesOf(group)).values()].filter((s) => s !== 'unsubscribed').length,
      toRetry: (await services.db.selectFrom('unsubscribe_requests').select('id').execute()).length,
    }),
    { holds: (left) => left.stillSubscribed === 0 && left.toRetry === 0, timeoutMs: 30_000 },
  );
  const consent = await services.db
    .selectFrom('consent_log')
    .innerJoin('subscribers', 'subscribers.id', 'consent_log.subscriber_id')
    .select(['consent_log.source'])
    .where('subscribers.email', 'like', `leaver-${group}-%`)
    .where('consent_log.action', '=', 'unsubscribe')
    .execute();
  expect(consent).toHaveLength(LEAVERS);
  expect(consent.every((c) => c.source === 'one-click')).toBe(true);
  expect(health.failures).toBe(0);
  // Latency is printed above, not judged here (the suite shares the machine with other test files):
  // only a request held for the whole import (27 s before the fix) fails the test.
  expect(Math.max(...r.postMs)).toBeLessThan(15_000);
  expect(Math.max(...health.ms)).toBeLessThan(15_000);
}

beforeAll(async () => {
  temp = makeTempEnv();
  services = await temp.open();
  await importFolder(services.db, DEMO_DIR);
  await services.db.transaction().execute((trx) =>
    createSubscribers(
      trx,
      ['cli', 'admin', 'quiet1', 'quiet2'].flatMap((group) =>
        Array.from({ length: LEAVERS }, (_, i) => ({
          email: leaverEmail(group, i),
          name: '',
          status: 'active' as const,
          topicIds: [],
          action: 'subscribe',
          context: { source: 'cli' as const },
        })),
      ),
    ),
  );
  await addEditor(services, 'ed@example.org', EDITOR_PASSWORD);
  server = await startChildServer(temp.env, 60_000);
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await services?.close();
  temp?.cleanup();
});

describe('one-click unsubscribes while 100,000 rows are imported', () => {
  it('by the CLI in another process: every unsubscribe succeeds and holds, the server keeps answering', async () => {
    const file = bigCsv('cli.csv', 'c');
    const quiet = await quietBaseline('quiet1');
    const before = await countSubscribers();
    const importStarted = performance.now();
    const health = pollHealth();
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'newsletter.js'), 'subscribers', 'import', file], {
      cwd: ROOT,
      env: temp.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let running = true;
    void exited.then(() => (running = false));
    // Start once the import is writing its batches.
    await eventually('the import to write (subscribers added)', async () => (await countSubscribers()) - before, {
      holds: (added) => added > 1000 || !running,
      timeoutMs: 120_000,
    });
    expect(running, `the import ended before the unsubscribes began:\n${output}`).toBe(true);

    const result = await unsubscribeUnderLoad('cli');
    const importRunningThroughout = running;
    const code = await exited;
    const importMs = performance.now() - importStarted;
    await health.stop();
    expect(code, output).toBe(0);
    expect(output).toContain(`${ROWS} added, 0 updated, 0 unchanged, 0 rejected`);
    report('CLI import', result, health, quiet, importMs, importRunningThroughout);
    await expectAllUnsubscribed('cli', result, health);
  }, 240_000);

  it('uploaded to the editors’ app of the same server: the same, and the upload completes', async () => {
    const file = bigCsv('admin.csv', 'a');
    const quiet = await quietBaseline('quiet2');
    const admin = new AdminClient(server.url);
    expect((await admin.login('ed@example.org', EDITOR_PASSWORD)).status).toBe(303);
    const token = await admin.csrfToken('/admin/subscribers');
    const form = new FormData();
    form.set('_csrf', token);
    form.set('csv', new Blob([readFileSync(file)], { type: 'text/csv' }), 'list.csv');
    const before = await countSubscribers();
    const importStarted = performance.now();
    const health = pollHealth();
    let uploading = true;
    const upload = admin.post('/admin/subscribers/import', form).then(async (res) => {
      uploading = false;
      return { status: res.status, html: await res.text() };
    });
    await eventually('the upload to write (subscribers added)', async () => (await countSubscribers()) - before, {
      holds: (added) => added > 1000 || !uploading,
      timeoutMs: 120_000,
    });
    expect(uploading, 'the upload ended before the unsubscribes began').toBe(true);

    const result = await unsubscribeUnderLoad('admin');
    const importRunningThroughout = uploading;
    const done = await upload;
    const importMs = performance.now() - importStarted;
    await health.stop();
    expect(done.status).toBe(200);
    expect(done.html).toContain(`Added ${ROWS}, updated 0, unchanged 0, rejected 0.`);
    report('Admin upload', result, health, quiet, importMs, importRunningThroughout);
    await expectAllUnsubscribed('admin', result, health);
  }, 240_000);
});
