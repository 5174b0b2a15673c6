import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';

/** Largest file an import reads: ten times the largest article of the real sample issue, and then some. */
export const MAX_CONTENT_FILE_BYTES = 1024 * 1024;

/** Why a content file cannot be read; the caller names the file. */
export class ContentFileError extends Error {}

function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * Reads a file of a content folder as UTF-8 text, refusing what an import must never read: a
 * symbolic link (or a linked parent folder) leading outside `root`, a device, a FIFO, a socket, a
 * file over `maxBytes`, or bytes that are not UTF-8. A device or FIFO would block the import or feed
 * it without end (a glossary linked to /dev/zero aborted the process); a link outside the folder
 * would publish whatever file it names.
 */
export function readContentFile(root: string, file: string, maxBytes = MAX_CONTENT_FILE_BYTES): string {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    throw new ContentFileError('cannot be read (missing, or a symbolic link to nothing)');
  }
  if (!isInside(realpathSync(root), real)) {
    throw new ContentFileError(
      `is a symbolic link leading outside the folder (to ${real}); copy the file into the folder instead`,
    );
  }
  const stat = lstatSync(real);
  if (!stat.isFile()) throw new ContentFileError(`is ${kindOf(stat)}, not a regular file`);
  const tooBig = () =>
    new ContentFileError(`is larger than the ${Math.round(maxBytes / 1024)} KiB a content file may hold; split it up`);
  if (stat.size > maxBytes) throw tooBig();

  // O_NOFOLLOW and O_NONBLOCK: if the file was swapped for a link or a FIFO since the checks above,
  // the open fails or returns at once instead of following it or waiting for a writer.
  const fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const opened = fstatSync(fd);
    if (!opened.isFile()) throw new ContentFileError(`is ${kindOf(opened)}, not a regular file`);
    const buffer = Buffer.alloc(Math.min(opened.size, maxBytes) + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buffer.length; length += n) {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    }
    if (length > maxBytes) throw tooBig();
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(buffer.subarray(0, length));
    } catch {
      throw new ContentFileError('is not UTF-8 text; save it as UTF-8');
    }
  } finally {
    closeSync(fd);
  }
}
