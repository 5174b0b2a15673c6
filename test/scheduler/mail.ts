import type { ReceivedMail } from '../helpers/smtp-sink.js';

/** A header exactly as it went over the wire (unfolded), or undefined. */
export function rawHeader(raw: Buffer | string, name: string): string | undefined {
  const text = raw.toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const head = (end >= 0 ? text.slice(0, end) : text).replace(/\r?\n[ \t]+/g, ' ');
  const wanted = name.toLowerCase();
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) return line.slice(colon + 1).trim();
  }
  return undefined;
}

export function recipient(mail: ReceivedMail): string {
  return mail.envelopeTo[0] ?? '';
}

export function byRecipient(mails: ReceivedMail[]): Map<string, ReceivedMail[]> {
  const map = new Map<string, ReceivedMail[]>();
  for (const m of mails) map.set(recipient(m), [...(map.get(recipient(m)) ?? []), m]);
  return map;
}
