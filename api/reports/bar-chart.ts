// A horizontal bar chart drawn on the server, like trend-chart.ts: presentation attributes only (the
// strict Content-Security-Policy allows no inline style or script), a text alternative, and every
// number it draws also printed beside it, in the table below it and in the CSV.

const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

export interface BarChartInput {
  /** What the chart shows, said to screen readers. */
  label: string;
  bars: readonly { label: string; value: number }[];
  /** Appended to each printed value (e.g. " per 100 readers"). */
  unit?: string;
}

const LABEL_WIDTH = 260;
const BAR_WIDTH = 300;
const ROW = 22;
const MAX_LABEL_CHARS = 42;

function shortLabel(text: string): string {
  return text.length <= MAX_LABEL_CHARS ? text : `${text.slice(0, MAX_LABEL_CHARS - 1)}…`;
}

export function barChart(input: BarChartInput): string {
  const max = Math.max(1, ...input.bars.map((b) => b.value));
  const height = Math.max(ROW, input.bars.length * ROW);
  const width = LABEL_WIDTH + BAR_WIDTH + 90;
  const rows = input.bars
    .map((b, i) => {
      const y = i * ROW;
      const w = (b.value / max) * BAR_WIDTH;
      return (
        `<text x="${LABEL_WIDTH - 8}" y="${y + 15}" text-anchor="end" font-size="12" fill="currentColor">${escapeXml(shortLabel(b.label))}</text>` +
        `<rect x="${LABEL_WIDTH}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW - 8}" fill="#1565c0"/>` +
        `<text x="${(LABEL_WIDTH + w + 6).toFixed(1)}" y="${y + 15}" font-size="12" fill="currentColor">${b.value}${escapeXml(input.unit ?? '')}</text>`
      );
    })
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" class="bars">` +
    `<title>${escapeXml(input.label)}</title>` +
    rows +
    `</svg>`
  );
}
