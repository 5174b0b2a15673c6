import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  decodeQuotedPrintable,
  encodeQuotedPrintable,
  quotedPrintableLength,
} from '../../src/mail/quoted-printable.js';

const samples = [
  '',
  'short',
  'line with trailing space \nand tab\t\n',
  `<p style="margin:0 0 16px">${'word '.repeat(60)}</p>\n`,
  `${'中文的段落，'.repeat(40)}\n${'é'.repeat(200)}`,
  `${'x'.repeat(75)}\n${'y'.repeat(76)}\n${'z'.repeat(74)}=\n${'=3D'.repeat(50)}`,
  `emoji 😀😀 ${'a'.repeat(70)}😀 end\r\nwindows line\r\n`,
];

describe('quotedPrintableLength', () => {
  it('equals the length of the encoding the send pipeline writes, with or without a line cache', () => {
    const cache = new Map<string, number>();
    for (const text of samples) {
      const expected = encodeQuotedPrintable(text).length;
      expect(quotedPrintableLength(text), JSON.stringify(text.slice(0, 40))).toBe(expected);
      expect(quotedPrintableLength(text, cache)).toBe(expected);
      expect(quotedPrintableLength(text, cache)).toBe(expected);
    }
  });

  it('keeps no measured text alive through its line cache', () => {
    // The cache lives as long as the version, across every edition measured; each edition's
    // HTML must be free to go once measured. 40 texts of 1 MB, each with a short line of its own.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const cache = new Map<string, number>();
    const measure = (i: number) =>
      quotedPrintableLength(`line of its own, number ${i}\n${'x'.repeat(1_000_000)}`, cache);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 40; i++) measure(i);
    gc();
    const kept = process.memoryUsage().heapUsed - before;
    expect(cache.size).toBe(40);
    expect(kept, `${(kept / 1e6).toFixed(1)} MB kept`).toBeLessThan(8_000_000);
  });

  it('holds for random mixes of ASCII, spaces, equals signs and multi-byte characters', () => {
    const alphabet = ['a', 'b', ' ', '\t', '=', '.', '\n', 'é', '中', '😀', '<', '"'];
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let n = 0; n < 200; n++) {
      let text = '';
      const length = Math.floor(random() * 400);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      expect(quotedPrintableLength(text)).toBe(encodeQuotedPrintable(text).length);
    }
  });
});

describe('encodeQuotedPrintable and decodeQuotedPrintable (libqp)', () => {
  it('round-trips text with unicode, = signs, trailing spaces and long lines', () => {
    const text = `Zoë = 1 \nline with trailing space \n${'x'.repeat(300)}\nend`;
    const encoded = encodeQuotedPrintable(text);
    expect(decodeQuotedPrintable(encoded)).toBe(text.replace(/\n/g, '\r\n'));
    for (const line of encoded.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
  });

  it('decodes the pieces the pipeline sends, joined by soft line breaks', () => {
    const pieces = [encodeQuotedPrintable('中文 = one'), '=\r\n', encodeQuotedPrintable(' two\n')];
    expect(decodeQuotedPrintable(pieces.map((p) => Buffer.from(p, 'latin1')))).toBe('中文 = one two\r\n');
  });
});
