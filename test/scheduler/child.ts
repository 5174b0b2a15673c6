import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface NewsletterChild {
  child: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `node bin/newsletter.js <args>` as a real separate process, in a temp cwd (no developer's .env);
 * `nodeArgs` go to node itself (e.g. `--import` of test/helpers/skewed-clock.js).
 */
export function spawnNewsletter(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  nodeArgs: readonly string[] = [],
): NewsletterChild {
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'bin', 'newsletter.js'), ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exit };
}
