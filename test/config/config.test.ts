import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ROOT } from '../helpers/child-server.js';
import { mountSmallDisk, smallDiskAvailable } from '../helpers/small-disk.js';
import { spawnSync } from 'node:child_process';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'config-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

// Each child loads the built config module and says "ready"; for each line "go <dir>" on stdin it
// does a first start with DATA_DIR=<dir> and prints the SECRET_KEY it got. The test releases every
// child into the same fresh DATA_DIR at once, round after round.
const CHILD = `
import { createInterface } from 'node:readline';
const { loadConfig } = await import(process.argv[1]);
process.stdout.write('ready\\n');
for await (const line of createInterface({ input: process.stdin })) {
  const dir = line.slice(3);
  process.stdout.write(dir + ' ' + loadConfig({ DATA_DIR: dir, SCHEDULE_TZ: 'UTC' }).secretKey + '\\n');
}`;

interface Starter {
  child: ChildProcess;
  next(): Promise<string>;
}

function starter(): Starter {
  const module = pathToFileURL(path.join(ROOT, 'dist', 'src', 'config', 'config.js')).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, module], {
    env: { PATH: process.env.PATH },
  });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buffer = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout.on('data', (c: Buffer) => {
    buffer += c.toString();
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      const resolve = waiting.shift();
      if (resolve) resolve(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`child exited with ${code}: ${err}`))),
  );
  return {
    child,
    next: () =>
      Promise.race([
        exited,
        new Promise<string>((resolve) => {
          const line = lines.shift();
          if (line !== undefined) resolve(line);
          else waiting.push(resolve);
        }),
      ]),
  };
}

describe('SECRET_KEY generated on first start', () => {
  it('is one key for concurrent first starts: 6 processes released at once, 30 rounds', async () => {
    const starters = Array.from({ length: 6 }, starter);
    try {
      expect(await Promise.all(starters.map((s) => s.next()))).toEqual(Array(6).fill('ready'));
      for (let round = 0; round < 30; round++) {
        const dir = path.join(dataDir, `round-${round}`);
        for (const s of starters) s.child.stdin?.write(`go ${dir}\n`);
        const keys = (await Promise.all(starters.map((s) => s.next()))).map((line) => line.slice(dir.length + 1));
        expect(new Set(keys).size, `round ${round}: ${keys.join(' ')}`).toBe(1);
        expect(keys[0]).toMatch(/^[0-9a-f]{64}$/);
        expect(readFileSync(path.join(dir, 'secret.key'), 'utf8').trim()).toBe(keys[0]);
        expect(readdirSync(dir)).toEqual(['secret.key']);
        expect(statSync(path.join(dir, 'secret.key')).mode & 0o777).toBe(0o600);
      }
    } finally {
      for (const s of starters) s.child.kill();
    }
  });

  it('keeps the key across starts, and refuses an empty key file with what to do', () => {
    const env = { DATA_DIR: dataDir, SCHEDULE_TZ: 'UTC' };
    const first = loadConfig(env).secretKey;
    expect(loadConfig(env).secretKey).toBe(first);
    rmSync(path.join(dataDir, 'secret.key'));
    writeFileSync(path.join(dataDir, 'secret.key'), '\n');
    expect(() => loadConfig(env)).toThrow(
      /secret\.key holds no usable key \(under 32 characters\): delete it, or set SECRET_KEY/,
    );
  });
});

describe.runIf(smallDiskAvailable)('a read-only DATA_DIR', () => {
  it('`newsletter serve` stops with one line saying what to fix, not a raw SqliteError', () => {
    const disk = mountSmallDisk(4096);
    try {
      const env = { PATH: process.env.PATH, DATA_DIR: disk.dir, SCHEDULE_TZ: 'UTC', LOG_LEVEL: 'silent', PORT: '0' };
      const newsletter = (command: string) =>
        spawnSync(process.execPath, [path.join(ROOT, 'bin', 'newsletter.js'), command], {
          env,
          encoding: 'utf8',
          timeout: 30_000,
        });
      expect(newsletter('migrate').status).toBe(0);
      disk.readOnly(true);
      const serve = newsletter('serve');
      expect(serve.status).toBe(1);
      expect(serve.stderr).toBe(
        `Error: DATA_DIR: ${disk.dir} cannot be written (it is on a read-only file system); ` +
          'make it writable for the user running the service, or set DATA_DIR to a folder that is\n',
      );
      expect(serve.stdout).not.toContain('Serving on');
    } finally {
      disk.readOnly(false);
      disk.unmount();
    }
  });
});
