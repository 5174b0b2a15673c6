import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../bin/node-flags.js';
import { startChildServer } from '../helpers/child-server.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

let env: TempEnv;
beforeAll(() => {
  env = makeTempEnv();
});
afterAll(() => env.cleanup());

describe("the service's V8 flags (bin/node-flags.js)", () => {
  it('are on the command line of `newsletter serve` started as `npx newsletter` starts it', async () => {
    const server = await startChildServer(env.env, 30_000, { through: 'shebang' });
    try {
      const argv = readFileSync(`/proc/${server.child.pid}/cmdline`, 'utf8').split('\0');
      for (const flag of NODE_FLAGS) expect(argv).toContain(flag);
      expect(argv).toContain('serve');
    } finally {
      await server.stop();
    }
  });

  it('are on the command line of the service `npm start` starts', async () => {
    // The real npm script; startChildServer runs it in its own process group and stops both.
    const server = await startChildServer(env.env, 60_000, { through: 'npm-start' });
    try {
      const service = descendants(server.child.pid ?? 0).find((argv) =>
        argv.some((a) => a.endsWith('bin/newsletter.js')),
      );
      expect(service, 'the node process running bin/newsletter.js').toBeDefined();
      for (const flag of NODE_FLAGS) expect(service).toContain(flag);
      expect(service).toContain('serve');
    } finally {
      await server.stop();
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
