import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface ChildServer {
  child: ChildProcess;
  url: string;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How the server is started: node on bin/newsletter.js, its shebang (as `npx newsletter`), or `npm start`. */
export type StartedThrough = 'node' | 'shebang' | 'npm-start';

/**
 * Starts `newsletter serve` as a real child process on a free port and waits until it listens.
 * The child runs under the Node that runs the tests (its folder comes first on PATH), so `npm start`
 * and the shebang find the same Node.
 */
export async function startChildServer(
  env: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
  options: { through?: StartedThrough } = {},
): Promise<ChildServer> {
  const bin = path.join(ROOT, 'bin', 'newsletter.js');
  const through = options.through ?? 'node';
  const [command, args] =
    through === 'shebang'
      ? [bin, ['serve']]
      : through === 'npm-start'
        ? ['npm', ['start', '--silent']]
        : [process.execPath, [bin, 'serve']];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...env, PORT: '0', PATH: [path.dirname(process.execPath), env.PATH ?? ''].join(path.delimiter) },
    stdio: ['ignore', 'pipe', 'pipe'],
    // npm runs the server as its own child: a process group lets stop() signal both.
    detached: through === 'npm-start',
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /Serving on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
  return {
    child,
    url,
    output: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        if (child.pid !== undefined && through === 'npm-start') process.kill(-child.pid, signal);
        else child.kill(signal);
      }),
  };
}

/** Every process below `pid` (Linux /proc), with its command line. */
export function descendants(pid: number): { pid: number; argv: string[] }[] {
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
  const found: { pid: number; argv: string[] }[] = [];
  const walk = (p: number) => {
    for (const child of children.get(p) ?? []) {
      try {
        found.push({ pid: child, argv: readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0') });
      } catch {
        // ended meanwhile
      }
      walk(child);
    }
  };
  walk(pid);
  return found;
}
