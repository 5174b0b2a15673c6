import pino from 'pino';

// Subscribers' addresses never reach the log (issue 9 item 20). SMTP replies name the recipient
// ("550 5.1.1 <ann@example.org>: Recipient address rejected"), and so do errors built from them;
// the logger masks every address in every value it writes, so no call site can forget to. Log the
// subscriber's id to say who. The domain stays (which provider refused says much); the local part
// keeps its first character only: `ann@example.org` → `a***@example.org`.

// Bounded repeats (a local part has at most 64 characters, a label 63), so a long run of address
// characters with no @ costs linear time, not quadratic.
const ADDRESS =
  /([\p{L}\p{N}!#$%&'*+/=?^_`{|}~-])[\p{L}\p{N}.!#$%&'*+/=?^_`{|}~-]{0,63}@((?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.){1,10}[\p{L}\p{N}-]{2,63})/gu;

/** Keys whose values look like addresses but are not anybody's: kept as they are. */
const NOT_ADDRESSES = new Set(['messageId']);

/** The text with every email address in it masked. */
export function maskAddresses(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(ADDRESS, (_match, first: string, domain: string) => `${first}***@${domain}`);
}

const MAX_DEPTH = 8;

/** A copy of a log value with every string masked; errors become what pino's serializer writes. */
export function maskDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskAddresses(value);
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (value instanceof Error) return maskDeep(pino.stdSerializers.err(value), depth + 1);
  if (Array.isArray(value)) return value.map((item) => maskDeep(item, depth + 1));
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = NOT_ADDRESSES.has(key) ? item : maskDeep(item, depth + 1);
  }
  return out;
}
