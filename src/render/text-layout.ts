import LineBreaker from 'linebreak';
import stringWidth from 'string-width';

// The text part laid out for reading in a terminal or a plain-text mail client: lines of at most
// 78 columns (RFC 5322's recommendation), measured by display width (string-width: CJK and other
// wide characters take two columns), broken where the Unicode line-breaking algorithm allows
// (linebreak, UAX #14: between words, and between any two CJK characters). Only a URL longer than a
// line may overflow; it is never cut, so it stays clickable.

export const TEXT_WIDTH = 78;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Columns a string takes in a terminal font. Printable ASCII takes one column a character, which
 * string-width also says, but only after segmenting graphemes: a third of all a sender allocated
 * went there, laying out each edition's text (1 GB over 130 editions of the sample issue).
 */
export const displayWidth = (text: string): number => (PRINTABLE_ASCII.test(text) ? text.length : stringWidth(text));

/** Starts a line that is laid out already (a table row): wrapping leaves it alone, then drops the mark. */
export const LAID_OUT = '\uE000';

const URL = /^<?(?:https?:\/\/|mailto:)\S+$/;
/** Quote marks, indentation and a list marker: continuation lines repeat the quote and indent under the text. */
const LINE_PREFIX = /^((?:> ?)*)([ \t]*)((?:[*+-]|\d+[.)])[ \t]+)?/;

/** Cuts a word that no break opportunity splits (not a URL) into pieces that each fit. */
function cutToWidth(word: string, width: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  for (const char of word) {
    if (piece !== '' && displayWidth(piece + char) > width) {
      pieces.push(piece);
      piece = '';
    }
    piece += char;
  }
  return piece === '' ? pieces : [...pieces, piece];
}

const URL_IN_TEXT = /(?:https?:\/\/|mailto:)[^\s<>]+/g;

/** Splits text at its break opportunities, never inside a URL; each segment keeps its trailing spaces. */
function segments(text: string): string[] {
  const urls = [...text.matchAll(URL_IN_TEXT)].map((m) => [m.index, m.index + m[0].length] as const);
  const insideUrl = (position: number) => urls.some(([start, end]) => position > start && position < end);
  const breaker = new LineBreaker(text);
  const out: string[] = [];
  let last = 0;
  for (let bk = breaker.nextBreak(); bk; bk = breaker.nextBreak()) {
    if (insideUrl(bk.position)) continue;
    out.push(text.slice(last, bk.position));
    last = bk.position;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** A segment of a line, measured once: the segment with its trailing spaces, and the word without. */
interface MeasuredSegment {
  segment: string;
  word: string;
  wordWidth: number;
  segmentWidth: number;
}

function measured(segment: string): MeasuredSegment {
  const word = segment.trimEnd();
  const wordWidth = displayWidth(word);
  return { segment, word, wordWidth, segmentWidth: word === segment ? wordWidth : displayWidth(segment) };
}

/**
 * One logical line as lines of at most `width` columns (a longer URL stands alone on its line).
 * Each segment is measured once, never the whole line again for every segment: widths add up at
 * break opportunities, which never fall inside a character cluster. (Measuring whole lines made
 * laying out an edition's text a third of all a sender allocated.)
 */
export function wrapLine(line: string, width = TEXT_WIDTH): string[] {
  // No character takes more than two columns.
  if (2 * line.length <= width) return [line];
  const match = LINE_PREFIX.exec(line) as RegExpExecArray;
  const first = match[0];
  const parts = segments(line.slice(first.length)).map(measured);
  if (displayWidth(first) + parts.reduce((sum, p) => sum + p.segmentWidth, 0) <= width) return [line];
  const quote = match[1] ?? '';
  const hanging = quote + ' '.repeat(displayWidth((match[2] ?? '') + (match[3] ?? '')));
  const room = (prefix: string) => Math.max(width - displayWidth(prefix), Math.min(width, 10));
  const lines: string[] = [];
  let prefix = first;
  // The line being filled, its width, and its width without its trailing spaces.
  let current = '';
  let currentWidth = 0;
  let currentTrimmedWidth = 0;
  const start = (text: string) => {
    current = text;
    currentWidth = displayWidth(text);
    currentTrimmedWidth = displayWidth(text.trimEnd());
  };
  const flush = () => {
    if (current.trim() !== '') lines.push(prefix + current.trimEnd());
    prefix = hanging;
    start('');
  };
  for (const { segment, word, wordWidth, segmentWidth } of parts) {
    const trimmedWidth = word === '' ? currentTrimmedWidth : currentWidth + wordWidth;
    if (trimmedWidth <= room(prefix)) {
      current += segment;
      currentWidth += segmentWidth;
      currentTrimmedWidth = trimmedWidth;
      continue;
    }
    flush();
    if (wordWidth <= room(prefix) || URL.test(word)) {
      current = segment;
      currentWidth = segmentWidth;
      currentTrimmedWidth = wordWidth;
    } else {
      const pieces = cutToWidth(word, room(prefix));
      for (const piece of pieces.slice(0, -1)) {
        start(piece);
        flush();
      }
      start((pieces.at(-1) ?? '') + segment.slice(word.length));
    }
  }
  flush();
  return lines;
}

/** A whole text, every line wrapped; lines marked LAID_OUT are kept as they are, without the mark. */
export function wrapText(text: string, width = TEXT_WIDTH): string {
  return text
    .split('\n')
    .flatMap((line) => (line.includes(LAID_OUT) ? [line.replace(LAID_OUT, '')] : wrapLine(line, width)))
    .join('\n');
}

const pad = (text: string, width: number) => text + ' '.repeat(Math.max(0, width - displayWidth(text)));

/**
 * Rows of cells as an aligned text table within `width` columns: columns as wide as their widest
 * cell, the widest shrunk (their cells wrapped) until the table fits; a rule under a header row.
 * Every line is marked LAID_OUT.
 */
export function textTable(rows: string[][], options: { header: boolean; width?: number }): string {
  const width = options.width ?? TEXT_WIDTH;
  const columns = Math.max(0, ...rows.map((r) => r.length));
  if (columns === 0) return '';
  const cells = rows.map((r) => Array.from({ length: columns }, (_, i) => (r[i] ?? '').replace(/\s+/g, ' ').trim()));
  const gap = 2;
  const widths = Array.from({ length: columns }, (_, i) => Math.max(1, ...cells.map((r) => displayWidth(r[i] ?? ''))));
  const total = () => widths.reduce((a, b) => a + b, 0) + gap * (columns - 1);
  while (total() > width) {
    const widest = widths.indexOf(Math.max(...widths));
    if ((widths[widest] as number) <= 8) break;
    widths[widest] = (widths[widest] as number) - 1;
  }
  const lines: string[] = [];
  cells.forEach((row, r) => {
    const wrapped = row.map((cell, i) => (cell === '' ? [''] : wrapLine(cell, widths[i])));
    const height = Math.max(...wrapped.map((w) => w.length));
    for (let l = 0; l < height; l++) {
      lines.push(
        wrapped
          .map((w, i) => pad(w[l] ?? '', widths[i] as number))
          .join(' '.repeat(gap))
          .trimEnd(),
      );
    }
    if (r === 0 && options.header) lines.push(widths.map((w) => '-'.repeat(w)).join(' '.repeat(gap)));
  });
  return lines.map((l) => LAID_OUT + l).join('\n');
}
