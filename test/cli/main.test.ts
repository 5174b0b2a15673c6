import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DIR } from '../../src/content/demo.js';
import { runCli } from '../helpers/cli.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..', '..');

let env: TempEnv;
beforeAll(() => {
  env = makeTempEnv();
});
afterAll(() => env.cleanup());

describe('newsletter command line', () => {
  it('`npx newsletter --help` works from the package bin, building the JavaScript on demand', async () => {
    const { stdout } = await run('npx', ['--no-install', 'newsletter', '--help'], { cwd: ROOT, env: env.env });
    for (const command of ['migrate', 'import', 'render', 'serve']) expect(stdout).toContain(command);
  });

  it('migrate, import (printing the slug) and render every format', async () => {
    const first = await runCli(['migrate'], env.env);
    expect(first.code).toBe(0);
    // It says what it applied, then that there is nothing left to apply.
    expect(first.stdout).toMatch(/^Applied 001-initial, 002-sending(, \d{3}-[a-z0-9-]+)*\n$/);
    expect((await runCli(['migrate'], env.env)).stdout).toBe('Database is up to date\n');
    const imported = await runCli(['import', DEMO_DIR], env.env);
    expect(imported).toMatchObject({ code: 0, stdout: 'welcome\n' });

    const email = await runCli(['render', 'welcome'], env.env);
    expect(email.code).toBe(0);
    // The size as sent against EMAIL_HTML_BUDGET, on stderr so the output stays the email alone.
    expect(email.stderr).toMatch(
      /^Edition \(whole issue\): \d+\.\d KiB of the 90\.0 KiB email budget; every article in full\n/,
    );
    expect(email.stdout).toMatch(/^<!doctype html>/i);
    expect(email.stdout).toContain('One Issue, Many Editions');

    const text = await runCli(['render', 'welcome', '--format', 'text', '--topics', 'privacy'], env.env);
    expect(text.stdout).toContain('1. Withdraw as Easily as You Subscribe');
    expect(text.stdout).not.toContain('Reliable Sending');

    const mjml = await runCli(['render', 'welcome', '--format', 'mjml'], env.env);
    expect(mjml.stdout).toMatch(/^<mjml/);

    // A budget even its teasers cannot meet: the email is all teasers and the editor is warned.
    const small = { ...env.env, EMAIL_HTML_BUDGET: '16384' };
    const fitted = await runCli(['render', 'welcome'], small);
    expect(fitted.stderr).toMatch(
      /^Edition \(whole issue\): WARNING: \d+\.\d KiB, OVER the 16\.0 KiB email budget \(even as teasers the articles do not fit\): Gmail will clip/,
    );
    expect(fitted.stdout.match(/Read the full article/g)).toHaveLength(5);

    const out = path.join(env.dir, 'web.html');
    const web = await runCli(
      ['render', 'welcome', '--format', 'web', '--topics', 'sending,privacy', '--out', out],
      env.env,
    );
    expect(web.code).toBe(0);
    const page = readFileSync(out, 'utf8');
    expect(page).toContain('1.</span> Reliable Sending');
    expect(page).toContain('2.</span> Withdraw as Easily as You Subscribe');
    // Eight command runs, each a fresh process that opens the database: a loaded machine needs minutes.
  }, 180_000);

  it('an unknown issue or topic is a clear error listing what exists', async () => {
    await runCli(['import', DEMO_DIR], env.env);
    const issue = await runCli(['render', 'nope'], env.env);
    expect(issue.code).toBe(1);
    expect(issue.stderr).toBe('Error: No issue "nope". Issues: welcome\n');
    const topic = await runCli(['render', 'welcome', '--topics', 'gardening'], env.env);
    expect(topic.code).toBe(1);
    expect(topic.stderr).toContain('Unknown topic "gardening". Topics: getting-started, editions, sending, privacy');
    const format = await runCli(['render', 'welcome', '--format', 'pdf'], env.env);
    expect(format.stderr).toContain('--format must be one of email, text, web, mjml');
  });

  it('a bad import folder fails with the file named and exit status 1', async () => {
    const result = await runCli(['import', path.join(env.dir, 'missing')], env.env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is not a folder');
  });

  it('bad configuration is reported with what to fix', async () => {
    const result = await runCli(['migrate'], { ...env.env, PORT: 'eighty' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('PORT must be a port number');
  });
});
