import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descendants, startChildServer } from '../helpers/child-server.js';
import { eventually } from '../helpers/eventually.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// `npm start` under a process manager: the manager signals the process it started (npm), not its
// children. SIGTERM to npm alone must stop the service and free its port (issue 11 §6).

let env: TempEnv;
beforeAll(() => {
  env = makeTempEnv();
});
afterAll(() => env.cleanup());

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('`npm start` under a process manager', () => {
  it('stops the service and frees its port within 10 s when only npm gets SIGTERM', { timeout: 90_000 }, async () => {
    const started = await startChildServer(env.env, 60_000, { through: 'npm-start' });
    const npmPid = started.child.pid ?? 0;
    const port = Number(new URL(started.url).port);
    let servicePid = 0;
    try {
      servicePid = descendants(npmPid).find((p) => p.argv.some((a) => a.endsWith('bin/newsletter.js')))?.pid ?? 0;
      expect(servicePid).toBeGreaterThan(0);
      expect(await portAnswers(port)).toBe(true);

      process.kill(npmPid, 'SIGTERM'); // npm alone, not its group
      await eventually(
        'the port to be free and the service gone',
        async () => ({ portFree: !(await portAnswers(port)), serviceGone: !alive(servicePid) }),
        { holds: (s) => s.portFree && s.serviceGone, timeoutMs: 10_000 },
      );
      // npm itself ends once the service has.
      await expect.poll(() => alive(npmPid), { timeout: 10_000 }).toBe(false);
    } finally {
      // Whatever happened, nothing of it keeps running.
      if (alive(npmPid)) await started.stop('SIGKILL');
      if (servicePid && alive(servicePid)) process.kill(servicePid, 'SIGKILL');
    }
  });
});
