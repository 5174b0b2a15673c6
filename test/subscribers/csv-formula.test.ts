import { describe, expect, it } from 'vitest';
import { neutraliseFormula, restoreNeutralised } from '../../subscribers/csv-formula.js';

describe('formula neutralising in CSV cells', () => {
  const values = [
    '',
    'plain',
    "O'Brien",
    "'quoted",
    '=1+2',
    '+plus@example.org',
    '-dash',
    '@home',
    '\tTabbed',
    '\r=carriage',
    '  =spaced',
    "'=already",
    "''@twice",
    "'''+thrice",
    '=',
    "'",
  ];

  it('gives every value back exactly after export and import', () => {
    for (const value of values) expect(restoreNeutralised(neutraliseFormula(value)), JSON.stringify(value)).toBe(value);
  });

  it('leaves no exported cell that a spreadsheet would run as a formula', () => {
    for (const value of values) expect(neutraliseFormula(value)).not.toMatch(/^(?:[=+\-@\t\r]|\s+[=+\-@])/);
  });

  it('takes off only the apostrophe the export adds', () => {
    expect(restoreNeutralised("'+plus@example.org")).toBe('+plus@example.org');
    expect(restoreNeutralised("'@home")).toBe('@home');
    expect(restoreNeutralised("'quoted")).toBe("'quoted");
    expect(restoreNeutralised("O'Brien")).toBe("O'Brien");
  });
});
