import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../bin/build.js';

// A small project of its own, so the real dist/ that other tests' child processes run is untouched.
let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'newsletter-build-'));
  mkdirSync(path.join(root, 'src', 'render'), { recursive: true });
  mkdirSync(path.join(root, 'scheduler'));
  writeFileSync(path.join(root, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(path.join(root, 'src', 'render', 'greeting.ts'), "export const greeting: string = 'hello';\n");
  writeFileSync(
    path.join(root, 'scheduler', 'main.ts'),
    "import { greeting } from '../src/render/greeting.js';\nexport const shout = (): string => greeting.toUpperCase();\n",
  );
  writeFileSync(path.join(root, 'src', 'render', 'plain.js'), "export const plain = 'copied';\n");
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const load = async (file: string, stamp: number) =>
  (await import(`${pathToFileURL(path.join(root, 'dist', file)).href}?v=${stamp}`)) as Record<string, unknown>;

describe('bin/build.js', () => {
  it('strips the types of every source into dist/, same folders, imports intact, JavaScript files included', async () => {
    const result = await ensureBuilt({ root });
    expect(result).toMatchObject({ built: true, files: 3, dir: path.join(root, 'dist') });
    const main = await load('scheduler/main.js', 1);
    expect((main.shout as () => string)()).toBe('HELLO');
    expect((await load('src/render/plain.js', 1)).plain).toBe('copied');
    expect(readFileSync(path.join(root, 'dist', 'src', 'render', 'greeting.js'), 'utf8')).not.toContain(': string');
  });

  it('does nothing while the sources are unchanged', async () => {
    expect((await ensureBuilt({ root })).built).toBe(false);
  });

  it('builds again after a source changes, so no stale code runs', async () => {
    const file = path.join(root, 'src', 'render', 'greeting.ts');
    writeFileSync(file, "export const greeting: string = 'hello again';\n");
    // A change that keeps the size is still seen: the modification time is in the fingerprint.
    const later = new Date(Date.now() + 5_000);
    utimesSync(file, later, later);
    expect((await ensureBuilt({ root })).built).toBe(true);
    expect(readFileSync(path.join(root, 'dist', 'src', 'render', 'greeting.js'), 'utf8')).toContain('hello again');
    expect((await ensureBuilt({ root })).built).toBe(false);
  });

  it('builds again when a source is added', async () => {
    writeFileSync(path.join(root, 'scheduler', 'extra.ts'), 'export const extra = 1;\n');
    expect(await ensureBuilt({ root })).toMatchObject({ built: true, files: 4 });
  });
});
