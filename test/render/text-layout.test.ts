import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import { displayWidth, textTable, wrapLine, wrapText } from '../../src/render/text-layout.js';

const CHINESE =
  '国家标准化管理委员会和工业和信息化部发布了两项关于信息化和工业化融合的国家标准，旨在推动企业数字化转型，提高生产效率和产品质量，促进制造业高质量发展，并为相关企业提供评估方法和实施指南，这些标准将于明年正式实施，届时各地将组织宣传贯彻培训活动。';

describe('displayWidth', () => {
  it('counts columns as string-width does, for ASCII, wide, combining, emoji and control characters', () => {
    const alphabet = ['a', ' ', '~', '.', '\t', '\u0007', '中', 'é', 'e\u0301', '😀', '👩‍💻', '\u200b', 'ｱ', '\u001b[1m'];
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let i = 0; i < 500; i++) {
      const text = Array.from(
        { length: Math.floor(random() * 30) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join('');
      expect(displayWidth(text), JSON.stringify(text)).toBe(stringWidth(text));
    }
    expect(displayWidth('plain ASCII words')).toBe(17);
    expect(displayWidth('中文 ok')).toBe(7);
  });
});

describe('wrapLine', () => {
  it('wraps a Chinese paragraph by display width, breaking between characters', () => {
    expect([...CHINESE].length).toBeGreaterThanOrEqual(120);
    const lines = wrapLine(CHINESE);
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(78);
    expect(lines.length).toBe(Math.ceil(displayWidth(CHINESE) / 78));
    expect(lines.join('')).toBe(CHINESE);
  });

  it('breaks English at spaces and keeps a long URL whole on its own line', () => {
    const url = `https://www.example.org/${'very-long-path-segment/'.repeat(5)}end`;
    const lines = wrapLine(`See the report at ${url} for the details of every standard listed there.`);
    expect(lines).toContain(url);
    for (const line of lines.filter((l) => l !== url)) expect(displayWidth(line)).toBeLessThanOrEqual(78);
    expect(lines.join(' ')).toBe(`See the report at ${url} for the details of every standard listed there.`);
  });

  it('hangs a list item and a quotation under their first line', () => {
    const item = wrapLine(`  * ${'item words '.repeat(12)}`.trimEnd(), 40);
    expect(item[0]?.startsWith('  * ')).toBe(true);
    for (const line of item.slice(1)) expect(line.startsWith('    ') && !line.startsWith('     ')).toBe(true);
    const quote = wrapLine(`> ${'quoted words '.repeat(8)}`.trimEnd(), 30);
    for (const line of quote) expect(line.startsWith('> ')).toBe(true);
  });

  it('cuts a word no break opportunity splits, unless it is a URL', () => {
    const word = 'x'.repeat(100);
    expect(wrapLine(word)).toEqual(['x'.repeat(78), 'x'.repeat(22)]);
  });
});

describe('textTable', () => {
  it('aligns columns by display width, with a rule under the header, and fits 78 columns', () => {
    const table = wrapText(
      textTable(
        [
          ['Abbreviation', 'English', 'Chinese'],
          ['SAC', 'Standardization Administration of China', '国家标准化管理委员会'],
          ['MIIT', 'Ministry of Industry and Information Technology', '工业和信息化部'],
        ],
        { header: true },
      ),
    );
    const lines = table.split('\n');
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(78);
    expect(lines[1]).toMatch(/^-+ {2}-+ {2}-+$/);
    // Each column starts at the same display column on every line that begins a row.
    const columnOf = (line: string, cell: string) => displayWidth(line.slice(0, line.indexOf(cell)));
    expect(columnOf(lines[0] as string, 'Chinese')).toBe(columnOf(lines[2] as string, '国家'));
    expect(columnOf(lines[0] as string, 'English')).toBe(columnOf(lines[2] as string, 'Standard'));
  });

  it('wraps cells when the table is wider than the page', () => {
    const long = 'word '.repeat(30).trim();
    const lines = wrapText(textTable([['a', long, long]], { header: false })).split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(78);
  });
});
