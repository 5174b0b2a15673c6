import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openServices } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { createLogger } from '../../src/log/logger.js';
import { sendIssue } from '../../scheduler/send-control.js';
import { ROOT } from '../helpers/child-server.js';
import { mountSmallDisk, smallDiskAvailable, type SmallDisk } from '../helpers/small-disk.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { insertDemoReaders } from '../scheduler/demo-send.js';
import { startFaultSink } from '../scheduler/fault-sink.js';

let disk: SmallDisk | undefined;
let env: TempEnv | undefined;
let child: ChildProcess | undefined;
afterEach(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  disk?.unmount();
  env?.cleanup();
  disk = env = child = undefined;
});

describe.runIf(smallDiskAvailable)('logs on a full disk', () => {
  it('`newsletter serve` with stderr on a full disk keeps serving instead of dying of ENOSPC', async () => {
    disk = mountSmallDisk(256);
    env = makeTempEnv({ LOG_LEVEL: 'info' });
    const logFile = path.join(disk.dir, 'newsletter.log');
    const fd = openSync(logFile, 'w');
    disk.fill();
    const serve = spawn(process.execPath, [path.join(ROOT, 'bin', 'newsletter.js'), 'serve'], {
      cwd: ROOT,
      env: { ...env.env, PORT: '0' },
      stdio: ['ignore', 'pipe', fd],
    });
    child = serve;
    closeSync(fd);
    {
      let out = '';
      const exited = new Promise<number | null>((resolve) => serve.once('exit', (code) => resolve(code)));
      const url = await new Promise<string>((resolve, reject) => {
        serve.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /Serving on (http:\/\/\S+)/.exec(out);
          if (m?.[1]) resolve(m[1]);
        });
        void exited.then((code) => reject(new Error(`serve exited with ${code}: ${out}`)));
        setTimeout(() => reject(new Error(`serve did not start within 30 s: ${out}`)), 30_000).unref();
      });
      // Each of these logs ("started", requests, the scheduler): none may stop the process.
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${url}/issues`);
        expect(res.status).toBe(200);
      }
      expect(serve.exitCode).toBeNull();
      expect(statSync(logFile).size).toBe(0);
      // Room again: the held lines are written with the next one.
      disk.free();
      serve.kill('SIGTERM');
      expect(await exited).not.toBe(1);
      expect(statSync(logFile).size).toBeGreaterThan(0);
    }
  });
});

// Issue 9 item 20: SMTP replies that name the recipient reach the log with the address masked and
// the subscriber's id beside them. The demo issue sent through the real sender to a real SMTP
// server on loopback that refuses one recipient and defers another, naming them, as Postfix does.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('the service log', () => {
  it('masks the addresses in SMTP replies and errors, and names the subscriber by id', async () => {
    const server = await startFaultSink({
      rcptTo: (to) =>
        to === 'r4@example.org'
          ? { code: 550, message: `5.1.1 <${to}>: Recipient address rejected: User unknown in virtual mailbox table` }
          : to === 'r5@example.org'
            ? { code: 450, message: `4.2.0 <${to}>: Recipient address rejected: Greylisted, try ${to} later` }
            : undefined,
    });
    cleanups.push(() => server.close());
    const env = makeTempEnv({ SMTP_URL: server.url, SEND_CONCURRENCY: '2' });
    cleanups.push(() => env.cleanup());
    const lines: string[] = [];
    const services = await openServices(env.config, {
      logger: createLogger('info', { write: (line: string) => void lines.push(line) }),
    });
    cleanups.push(() => services.close());
    const { slug } = await importFolder(services.db, DEMO_DIR);
    await insertDemoReaders(services, 12);
    await sendIssue(services, slug, { tuning: { retryBaseMs: 30, retryMaxMs: 200 } });

    const log = lines.join('');
    expect(log).not.toContain('r4@example.org');
    expect(log).not.toContain('r5@example.org');
    const ids = new Map(
      (await services.db.selectFrom('subscribers').select(['id', 'email']).execute()).map((s) => [s.email, s.id]),
    );
    const entries = lines.map((l) => JSON.parse(l) as { msg: string; subscriber?: number; reply?: string });
    const bounced = entries.find((e) => e.subscriber === ids.get('r4@example.org'));
    expect(bounced?.reply).toContain('<r***@example.org>: Recipient address rejected');
    const deferred = entries.find((e) => e.subscriber === ids.get('r5@example.org'));
    expect(deferred?.reply).toContain('Greylisted, try r***@example.org later');
  }, 60_000);
});
