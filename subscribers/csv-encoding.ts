// A subscriber list comes from spreadsheets that save text in many encodings. The import reads
// UTF-8 (with or without a byte-order mark) and UTF-16 (Excel's "Unicode text", which carries a
// byte-order mark) and converts them; anything else is refused with the encoding named and how to
// convert it, never read as mojibake. `encoding` names the file's encoding explicitly
// (`--encoding windows-1252`), for files that are not UTF-8 by intent.

export class CsvEncodingError extends Error {}

const HOW_TO_FIX =
  'Save the file as UTF-8 ("CSV UTF-8" in Excel, "Unicode (UTF-8)" in LibreOffice) and import it again';

function decoder(label: string): TextDecoder {
  try {
    return new TextDecoder(label, { fatal: true });
  } catch {
    throw new CsvEncodingError(
      `"${label}" is not an encoding this import knows; use a name such as utf-8, utf-16le or windows-1252`,
    );
  }
}

function decodeStrictly(bytes: Uint8Array, label: string, name: string): string {
  try {
    return decoder(label).decode(bytes);
  } catch (error) {
    if (error instanceof CsvEncodingError) throw error;
    throw new CsvEncodingError(`The file starts as ${name} but holds bytes that are not ${name}. ${HOW_TO_FIX}`);
  }
}

/** The first line (1-based) that is not UTF-8, and its first byte outside ASCII. */
function firstLineNotUtf8(bytes: Uint8Array): { line: number; byte: number } {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  for (let start = 0, line = 1; start < bytes.length; line++) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline < 0 ? bytes.length : newline;
    const slice = bytes.subarray(start, end);
    try {
      utf8.decode(slice);
    } catch {
      return { line, byte: slice.find((b) => b >= 0x80) ?? 0 };
    }
    start = end + 1;
  }
  return { line: 1, byte: 0 };
}

/** UTF-16 without a byte-order mark shows as a NUL byte beside nearly every ASCII character. */
function utf16WithoutBom(bytes: Uint8Array): 'utf-16le' | 'utf-16be' | null {
  const sample = bytes.subarray(0, Math.min(bytes.length, 4096) & ~1);
  if (sample.length < 4) return null;
  let evenZeros = 0;
  let oddZeros = 0;
  for (let i = 0; i < sample.length; i += 2) {
    if (sample[i] === 0) evenZeros++;
    if (sample[i + 1] === 0) oddZeros++;
  }
  const pairs = sample.length / 2;
  if (oddZeros > pairs * 0.6 && evenZeros < pairs * 0.1) return 'utf-16le';
  if (evenZeros > pairs * 0.6 && oddZeros < pairs * 0.1) return 'utf-16be';
  return null;
}

/** The file's text, or CsvEncodingError saying which encoding it is in and how to convert it. */
export function decodeCsvBytes(bytes: Uint8Array, encoding?: string): string {
  if (encoding !== undefined) {
    const text = decodeStrictly(bytes, encoding, encoding);
    return text.startsWith('\uFEFF') ? text.slice(1) : text;
  }
  const [b0, b1, b2, b3] = bytes;
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) return decodeStrictly(bytes.subarray(3), 'utf-8', 'UTF-8');
  if ((b0 === 0xff && b1 === 0xfe && b2 === 0 && b3 === 0) || (b0 === 0 && b1 === 0 && b2 === 0xfe && b3 === 0xff)) {
    throw new CsvEncodingError(`The file is UTF-32, which this import does not read. ${HOW_TO_FIX}`);
  }
  if (b0 === 0xff && b1 === 0xfe) return decodeStrictly(bytes.subarray(2), 'utf-16le', 'UTF-16');
  if (b0 === 0xfe && b1 === 0xff) return decodeStrictly(bytes.subarray(2), 'utf-16be', 'UTF-16');
  const utf16 = utf16WithoutBom(bytes);
  if (utf16) return decodeStrictly(bytes, utf16, 'UTF-16');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const { line, byte } = firstLineNotUtf8(bytes);
    const hex = byte.toString(16).toUpperCase().padStart(2, '0');
    throw new CsvEncodingError(
      `The file is not UTF-8: line ${line} holds the byte 0x${hex}, which UTF-8 does not allow there. It is most likely Windows-1252 (Latin-1), what Excel saves as plain "CSV" in western Europe. ${HOW_TO_FIX}, or name its encoding: --encoding windows-1252 on the command line, the Encoding field in the editors' app`,
    );
  }
}
