// Characters XML 1.0 cannot carry at all, escaped or not (its Char production): C0 controls other
// than tab, line feed and carriage return, lone surrogates, U+FFFE and U+FFFF. A title holding one
// (a vertical tab pasted from a word processor) made /feed.xml invalid XML.
const XML_INVALID = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** The text without the characters XML cannot carry. */
export function stripXmlInvalid(text: string): string {
  return text.replace(XML_INVALID, '');
}

/** A copy of plain data (plain objects, arrays, strings) with every string stripped of them; other values as they are. */
export function stripXmlInvalidDeep<T>(value: T): T {
  if (typeof value === 'string') return stripXmlInvalid(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => stripXmlInvalidDeep(item)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, stripXmlInvalidDeep(item)]),
    ) as T;
  }
  return value;
}
