import { describe, expect, it } from 'vitest';
import { CsvEncodingError, decodeCsvBytes } from '../../subscribers/csv-encoding.js';

const text = 'email,name\nzoe@example.org,Zoë 李\n';

describe('decodeCsvBytes', () => {
  it('reads UTF-8 with and without a byte-order mark, and UTF-16 in either byte order with or without one', () => {
    const utf16le = Buffer.from(text, 'utf16le');
    const utf16be = Buffer.from(utf16le).swap16();
    expect(decodeCsvBytes(Buffer.from(text))).toBe(text);
    expect(decodeCsvBytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))).toBe(text);
    expect(decodeCsvBytes(Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le]))).toBe(text);
    expect(decodeCsvBytes(Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be]))).toBe(text);
    expect(decodeCsvBytes(utf16le)).toBe(text);
    expect(decodeCsvBytes(utf16be)).toBe(text);
  });

  it('names the line and byte where a file stops being UTF-8, and what it probably is', () => {
    const latin1 = Buffer.from('email,name\nann@example.org,Ann\nrene@example.org,René\n', 'latin1');
    expect(() => decodeCsvBytes(latin1)).toThrow(CsvEncodingError);
    expect(() => decodeCsvBytes(latin1)).toThrow(/line 3 holds the byte 0xE9.*Windows-1252/);
  });

  it('decodes a named encoding, takes off its byte-order mark, and refuses names it does not know', () => {
    expect(decodeCsvBytes(Buffer.from('name\nRené\n', 'latin1'), 'windows-1252')).toBe('name\nRené\n');
    expect(decodeCsvBytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]), 'utf-8')).toBe(text);
    expect(() => decodeCsvBytes(Buffer.from(text), 'ebcdic-klingon')).toThrow(/"ebcdic-klingon" is not an encoding/);
  });
});
