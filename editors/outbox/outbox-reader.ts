import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser, type AddressObject } from 'mailparser';

// Reads the embedded default's outbox (DATA_DIR/outbox/*.eml, written by the messenger) for the
// editors' app. mailparser is the same parser the tests use to read what an SMTP server received.

const NAME_PATTERN = /^[A-Za-z0-9@._+-]{1,255}\.eml$/;

export interface OutboxEntry {
  name: string;
  size: number;
  modifiedAt: string;
}

export interface OutboxMessage {
  name: string;
  from: string;
  to: string;
  subject: string;
  date: string | null;
  messageId: string;
  headers: { name: string; value: string }[];
  text: string;
  html: string | null;
  raw: string;
}

export function isOutboxName(name: string): boolean {
  return NAME_PATTERN.test(name) && path.basename(name) === name;
}

/** Newest first. A missing outbox (nothing sent yet, or SMTP configured) is an empty list. */
export async function listOutbox(outboxDir: string): Promise<OutboxEntry[]> {
  let names: string[];
  try {
    names = (await readdir(outboxDir)).filter(isOutboxName);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const entries = await Promise.all(
    names.map(async (name) => {
      const s = await stat(path.join(outboxDir, name));
      return { name, size: s.size, modifiedAt: s.mtime.toISOString(), mtime: s.mtimeMs };
    }),
  );
  return entries
    .sort((a, b) => b.mtime - a.mtime || b.name.localeCompare(a.name))
    .map(({ name, size, modifiedAt }) => ({ name, size, modifiedAt }));
}

function addresses(value: AddressObject | AddressObject[] | undefined): string {
  if (!value) return '';
  return (Array.isArray(value) ? value : [value]).map((a) => a.text).join(', ');
}

const SHOWN_HEADERS = [
  'from',
  'to',
  'subject',
  'date',
  'message-id',
  'list-id',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'dkim-signature',
  'mime-version',
  'content-type',
];

export async function readOutboxMessage(outboxDir: string, name: string): Promise<OutboxMessage | undefined> {
  if (!isOutboxName(name)) return undefined;
  let raw: Buffer;
  try {
    raw = await readFile(path.join(outboxDir, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = await simpleParser(raw, { skipImageLinks: true });
  // The headers people read are shown as mailparser decoded them (`=?UTF-8?Q?…?=` becomes the
  // text it encodes); the technical ones as written, unfolded.
  const decoded: Record<string, string | undefined> = {
    subject: parsed.subject,
    from: addresses(parsed.from),
    to: addresses(parsed.to),
  };
  const headers = parsed.headerLines
    .filter((h) => SHOWN_HEADERS.includes(h.key))
    .map((h) => {
      const colon = h.line.indexOf(':');
      return {
        name: h.line.slice(0, colon),
        value:
          decoded[h.key] ??
          h.line
            .slice(colon + 1)
            .replace(/\r?\n\s+/g, ' ')
            .trim(),
      };
    });
  return {
    name,
    from: addresses(parsed.from),
    to: addresses(parsed.to),
    subject: parsed.subject ?? '',
    date: parsed.date ? parsed.date.toISOString() : null,
    messageId: parsed.messageId ?? '',
    headers,
    text: parsed.text ?? '',
    html: typeof parsed.html === 'string' ? parsed.html : null,
    raw: raw.toString('utf8'),
  };
}
