// Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return that
// hides one) as a formula (OWASP "CSV injection"). The export puts an apostrophe in front of such a
// cell, which spreadsheets show as text; the import takes exactly that apostrophe off again, so
// our own export imports back unchanged (`'+plus@example.org` is `+plus@example.org`).
//
// A value that already starts with apostrophes before a formula character (`'@home`) gets one
// more on export, so the import's single removal gives it back exactly.

const FORMULA_START = /^'*(?:[=+\-@\t\r]|\s+[=+\-@])/;

/** The cell as the export writes it: with a leading apostrophe when a spreadsheet would run it. */
export function neutraliseFormula(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** The inverse of neutraliseFormula, for cells read by the import. */
export function restoreNeutralised(cell: string): string {
  return cell.startsWith("'") && FORMULA_START.test(cell.slice(1)) ? cell.slice(1) : cell;
}
