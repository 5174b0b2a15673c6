import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentFileError, readContentFile } from '../../src/content/content-file.js';

let root: string;
let outside: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'content-file-'));
  outside = mkdtempSync(path.join(os.tmpdir(), 'content-outside-'));
  mkdirSync(path.join(root, 'articles'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const refusal = (file: string, max?: number): string => {
  try {
    readContentFile(root, file, max);
  } catch (error) {
    expect(error).toBeInstanceOf(ContentFileError);
    return (error as Error).message;
  }
  throw new Error(`${file} was read`);
};

describe('readContentFile', () => {
  it('reads a regular file, and a link to another file inside the folder', () => {
    writeFileSync(path.join(root, 'articles', 'a.md'), '\uFEFFhello 标准');
    symlinkSync(path.join(root, 'articles', 'a.md'), path.join(root, 'articles', 'b.md'));
    expect(readContentFile(root, path.join(root, 'articles', 'a.md'))).toBe('hello 标准');
    expect(readContentFile(root, path.join(root, 'articles', 'b.md'))).toBe('hello 标准');
  });

  it('refuses a link leading outside the folder, also through a linked folder', () => {
    writeFileSync(path.join(outside, 'secret.txt'), 'secret');
    symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'abbreviations.tsv'));
    expect(refusal(path.join(root, 'abbreviations.tsv'))).toMatch(/symbolic link leading outside the folder/);
    symlinkSync(outside, path.join(root, 'linked'));
    expect(refusal(path.join(root, 'linked', 'secret.txt'))).toMatch(/leading outside the folder/);
    symlinkSync('/etc/passwd', path.join(root, 'articles', 'p.md'));
    expect(refusal(path.join(root, 'articles', 'p.md'))).toMatch(/leading outside the folder \(to \/etc\/passwd\)/);
  });

  it('refuses a device, even linked from inside, and a FIFO without waiting for a writer', () => {
    symlinkSync('/dev/zero', path.join(root, 'abbreviations.tsv'));
    expect(refusal(path.join(root, 'abbreviations.tsv'))).toMatch(/leading outside the folder/);
    execFileSync('mkfifo', [path.join(root, 'issue.md')]);
    expect(refusal(path.join(root, 'issue.md'))).toBe('is a FIFO (named pipe), not a regular file');
    expect(refusal(path.join(root, 'articles'))).toBe('is a folder, not a regular file');
  });

  it('caps the size and refuses bytes that are not UTF-8', () => {
    writeFileSync(path.join(root, 'big.md'), 'x'.repeat(4097));
    expect(refusal(path.join(root, 'big.md'), 4096)).toMatch(/is larger than the 4 KiB a content file may hold/);
    expect(readContentFile(root, path.join(root, 'big.md'), 4097)).toHaveLength(4097);
    writeFileSync(path.join(root, 'latin1.md'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    expect(refusal(path.join(root, 'latin1.md'))).toMatch(/is not UTF-8 text/);
  });
});
