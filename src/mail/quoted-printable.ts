import { decode, encode, wrap } from 'libqp';

/** Lines of at most 76 characters with room for the `=` of a soft line break (RFC 2045 §6.7). */
const LINE_LENGTH = 75;

/**
 * A message body as the send pipeline writes it: CRLF line ends, quoted-printable, wrapped. The
 * size budget of an email's HTML part is measured on exactly this encoding.
 */
export function encodeQuotedPrintable(text: string): string {
  return wrap(encode(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8')), LINE_LENGTH);
}

/**
 * The length of `encodeQuotedPrintable(text)` without building it. Quoted-printable wraps each line
 * on its own (a hard line break resets the soft wrapping), so the length is a sum over lines, and
 * `lineLengths` (kept by the caller across measurements) spares encoding a line seen before: an
 * edition measured several times while it is fitted shares nearly all its lines with the others.
 */
const AFTER_A_LINE = `${'x'.repeat(LINE_LENGTH - 2)}\r\n`;

export function quotedPrintableLength(text: string, lineLengths?: Map<string, number>): number {
  const encodedLength = (line: string) => wrap(encode(Buffer.from(line, 'utf8')), LINE_LENGTH).length;
  const lines = text.split(/\r?\n/);
  const last = lines.pop() as string;
  // The wrapping returns a text of one short line untouched, but after a line break it may still
  // break a short last line at a space: measured after a full line, as it comes in the message.
  let total = lines.length === 0 ? encodedLength(last) : encodedLength(AFTER_A_LINE + last) - AFTER_A_LINE.length;
  for (const line of lines) {
    // Keyed by the line without its break: each is encoded as it is sent, with its CRLF.
    let length = lineLengths?.get(line);
    if (length === undefined) {
      length = encodedLength(`${line}\r\n`);
      // A fresh copy as the key: a line cut from the text by split() keeps the whole text alive, and
      // the map outlives it (every edition of an issue would stay in memory for a line of each).
      lineLengths?.set(Buffer.from(line, 'utf8').toString('utf8'), length);
    }
    total += length;
  }
  return total;
}

/** The text of a quoted-printable body (UTF-8), given as a string or as the pieces the pipeline sends. */
export function decodeQuotedPrintable(encoded: string | Buffer | Buffer[]): string {
  const bytes = typeof encoded === 'string' ? encoded : Buffer.concat(Array.isArray(encoded) ? encoded : [encoded]);
  return decode(bytes).toString('utf8');
}
