import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../bin/node-flags.js';
import { ROOT, startChildServer } from '../helpers/child-server.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

let env: TempEnv;
beforeAll(() => {
  env = makeTempEnv();
});
afterAll(() => env.cleanup());

describe("the service's V8 flags (bin/node-flags.js)", () => {
  it('are on the command line of `newsletter serve` started as `npx newsletter` starts it', async () => {
    const server = await startChildServer(env.env, 30_000, { throughShebang: true });
    try {
      const argv = readFileSync(`/proc/${server.child.pid}/cmdline`, 'utf8').split('\0');
      for (const flag of NODE_FLAGS) expect(argv).toContain(flag);
      expect(argv).toContain('serve');
    } finally {
      await server.stop();
    }
  });

  it('are on the command line of the service `npm start` starts', async () => {
    // The real npm script, in its own process group so the test can stop npm and the service together.
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...env.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    npm.stdout.on('data', (c: Buffer) => (out += c.toString()));
    npm.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
    try {
      const deadline = Date.now() + 60_000;
      while (!/Serving on http/.test(out)) {
        if (Date.now() > deadline || npm.exitCode !== null) throw new Error(`npm start did not serve:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const service = descendants(npm.pid ?? 0).find((argv) => argv.some((a) => a.endsWith('bin/newsletter.js')));
      expect(service, 'the node process running bin/newsletter.js').toBeDefined();
      for (const flag of NODE_FLAGS) expect(service).toContain(flag);
      expect(service).toContain('serve');
    } finally {
      if (npm.exitCode === null) process.kill(-(npm.pid ?? 0), 'SIGTERM');
      await exited;
    }
  });
});

/** The command lines of every process below `pid` (Linux /proc). */
function descendants(pid: number): string[][] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent's pid; the command name before it is in parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const found: string[][] = [];
  const walk = (p: number) => {
    for (const child of children.get(p) ?? []) {
      try {
        found.push(readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0'));
      } catch {
        // ended meanwhile
      }
      walk(child);
    }
  };
  walk(pid);
  return found;
}
