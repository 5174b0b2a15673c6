import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/child-server.js';
import { mountSmallDisk, smallDiskAvailable, type SmallDisk } from '../helpers/small-disk.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

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
