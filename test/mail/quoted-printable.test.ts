import { describe, expect, it } from 'vitest';
import { encodeQuotedPrintable, quotedPrintableLength } from '../../src/mail/quoted-printable.js';

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
