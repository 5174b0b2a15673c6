import { open, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';

// The embedded default's outbox (DATA_DIR/outbox/*.eml) holds a copy of every message it
// delivered. When a subscriber is erased, the messages addressed to them go too (issue 9 item 7):
// the outbox is a mailbox of theirs on our disk.

/** Enough of a file to hold its header block; ours are a few hundred bytes. */
const HEADER_BYTES = 64 * 1024;

/** The unfolded value of the `To:` header of a raw RFC 5322 header block, or ''. */
function toHeader(head: string): string {
  const end = head.search(/\r?\n\r?\n/);
  const unfolded = (end < 0 ? head : head.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  return /^to:[ \t]*(.*)$/im.exec(unfolded)?.[1] ?? '';
}

/** Whether a To header names this address (alone, or as `<address>` after a display name). */
export function headerNames(to: string, address: string): boolean {
  const value = to.toLowerCase();
  const wanted = address.toLowerCase();
  for (let at = value.indexOf(wanted); at >= 0; at = value.indexOf(wanted, at + 1)) {
    const before = at === 0 ? '' : value[at - 1];
    const after = value[at + wanted.length] ?? '';
    if (/^[<\s,:]?$/.test(before ?? '') && /^[>\s,;]?$/.test(after)) return true;
  }
  return false;
}

async function readHead(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEADER_BYTES, 0);
    return buffer.subarray(0, bytesRead).toString('latin1');
  } finally {
    await handle.close();
  }
}

/** Deletes every `.eml` file in the outbox addressed to `address`; returns the names deleted. */
export async function deleteOutboxMessagesTo(outboxDir: string, address: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(outboxDir)).filter((name) => name.endsWith('.eml'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const deleted: string[] = [];
  for (const name of names) {
    const file = path.join(outboxDir, name);
    try {
      if (!headerNames(toHeader(await readHead(file)), address)) continue;
      await unlink(file);
      deleted.push(name);
    } catch (error) {
      // Removed meanwhile (by the editors' app, or a second erasure): nothing left to delete.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return deleted;
}
