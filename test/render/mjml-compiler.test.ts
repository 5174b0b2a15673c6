import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import readline from 'node:readline';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { DIST_DIR } from '../../bin/build.js';
import { MjmlCompiler } from '../../src/render/mjml-compiler.js';
import { eventually } from '../helpers/eventually.js';

const run = promisify(execFile);

const mjml = (body: string) =>
  `<mjml><mj-body><mj-section><mj-column>${body}</mj-column></mj-section></mj-body></mjml>`;

describe('MjmlCompiler', () => {
  const compilers: MjmlCompiler[] = [];
  const make = (idleMs?: number) => {
    const compiler = new MjmlCompiler({ idleMs });
    compilers.push(compiler);
    return compiler;
  };
  afterEach(async () => {
    await Promise.all(compilers.splice(0).map((c) => c.close()));
  });

  it('compiles MJML to responsive HTML in a process of its own', async () => {
    const compiler = make();
    expect(compiler.running).toBe(false);
    const result = await compiler.compile(mjml('<mj-text>Hello <b>readers</b></mj-text>'));
    expect(result.errors).toEqual([]);
    expect(result.html).toContain('Hello <b>readers</b>');
    expect(result.html).toMatch(/@media only screen and \(min-width:480px\)/);
    expect(compiler.running).toBe(true);
    expect(compiler.pid).toBeGreaterThan(0);
    expect(compiler.pid).not.toBe(process.pid);
  });

  it('answers concurrent compiles each with its own result', async () => {
    const compiler = make();
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) => compiler.compile(mjml(`<mj-text>edition ${n}</mj-text>`))),
    );
    results.forEach((r, i) => expect(r.html).toContain(`edition ${i + 1}`));
  });

  it('reports every validation problem instead of HTML (strict)', async () => {
    const compiler = make();
    const result = await compiler.compile(
      mjml('<mj-text colour="red">x</mj-text><mj-image src="a.png" align="sideways" />'),
    );
    expect(result.html).toBe('');
    expect(result.errors).toHaveLength(2);
    expect(result.errors.join('\n')).toMatch(/colour/);
    expect(result.errors.join('\n')).toMatch(/align/);
  });

  it('ends its process when idle and starts a new one for the next compile', async () => {
    const compiler = make(50);
    await compiler.compile(mjml('<mj-text>first</mj-text>'));
    const first = compiler.pid as number;
    await eventually('the idle compiler to end its process', () => !compiler.running);
    await eventually('the idle process to exit', () => !alive(first));
    const again = await compiler.compile(mjml('<mj-text>second</mj-text>'));
    expect(again.html).toContain('second');
  });

  it('ends its process at once when released, or as soon as the compiles owed are answered', async () => {
    const compiler = make(60_000);
    await compiler.compile(mjml('<mj-text>one</mj-text>'));
    expect(compiler.running).toBe(true);
    compiler.release();
    expect(compiler.running).toBe(false);

    const owed = compiler.compile(mjml('<mj-text>two</mj-text>'));
    compiler.release();
    expect(compiler.running).toBe(true);
    expect((await owed).html).toContain('two');
    expect(compiler.running).toBe(false);
    // Released is not closed: the next compile starts a process again.
    expect((await compiler.compile(mjml('<mj-text>three</mj-text>'))).html).toContain('three');
  });

  it('rejects a compile still owed when closed', async () => {
    const compiler = make();
    const owed = expect(compiler.compile(mjml('<mj-text>never</mj-text>'))).rejects.toThrow(/closed/);
    await compiler.close();
    await owed;
    expect(compiler.running).toBe(false);
  });

  it('never keeps a process alive once its compiles are answered', async () => {
    // An idle time of ten minutes: if the idle compiler held the event loop, this child would hang.
    const script = `
      const { MjmlCompiler } = await import(${JSON.stringify(path.join(DIST_DIR, 'src', 'render', 'mjml-compiler.js'))});
      const result = await new MjmlCompiler({ idleMs: 600000 }).compile(${JSON.stringify(mjml('<mj-text>bye</mj-text>'))});
      console.log(result.html.includes('bye') ? 'compiled' : 'wrong output');
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
    expect(stdout.trim()).toBe('compiled');
  });

  it('is closed, its process ended, when `await close()` returns at the top level of a script', async () => {
    // An idle child does not hold the event loop; close() must, until the child has exited.
    const script = `
      const { MjmlCompiler } = await import(${JSON.stringify(path.join(DIST_DIR, 'src', 'render', 'mjml-compiler.js'))});
      const compiler = new MjmlCompiler({ idleMs: 600000 });
      await compiler.compile(${JSON.stringify(mjml('<mj-text>bye</mj-text>'))});
      const pid = compiler.pid;
      await compiler.close();
      console.log('closed', pid);
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
    const [word, pid] = stdout.trim().split(' ');
    expect(word).toBe('closed');
    expect(alive(Number(pid))).toBe(false);
  });

  it('ends its process when the process that started it dies', async () => {
    const script = `
      const { MjmlCompiler } = await import(${JSON.stringify(path.join(DIST_DIR, 'src', 'render', 'mjml-compiler.js'))});
      const compiler = new MjmlCompiler({ idleMs: 600000 });
      await compiler.compile(${JSON.stringify(mjml('<mj-text>orphan?</mj-text>'))});
      console.log(compiler.pid);
      setInterval(() => {}, 60000);
    `;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = await readline
      .createInterface({ input: parent.stdout })
      [Symbol.asyncIterator]()
      .next()
      .then((r) => [r.value as string]);
    const pid = Number(line);
    expect(alive(pid), `compiler process ${pid}`).toBe(true);
    parent.kill('SIGKILL');
    await eventually('the orphaned compiler process to exit', () => !alive(pid));
  });
});

/** Whether the process runs (a zombie left for a parent that does not reap it counts as ended). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
