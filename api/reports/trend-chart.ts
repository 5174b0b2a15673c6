// Small server-drawn SVG charts for the reports: no script, no external file, nothing the strict
// Content-Security-Policy would block (presentation attributes only, no inline style). Each chart
// has a text alternative; the numbers it draws are in the table beside it and in the CSV.

const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

export interface TrendInput {
  /** What the chart shows, said to screen readers. */
  label: string;
  /** The line: a level per period. */
  level: readonly number[];
  /** Bars above the baseline (joined) and below it (left), per period. */
  up: readonly number[];
  down: readonly number[];
}

const WIDTH = 240;
const HEIGHT = 60;
const LINE_HEIGHT = 36;
const BAR_HEIGHT = 10;

/** A line of the level over time, with bars of what came and went under it. */
export function trendChart(input: TrendInput): string {
  const n = input.level.length;
  const step = n > 1 ? WIDTH / (n - 1) : WIDTH;
  const max = Math.max(1, ...input.level);
  const points = input.level
    .map((v, i) => `${(i * step).toFixed(1)},${(2 + LINE_HEIGHT - (v / max) * LINE_HEIGHT).toFixed(1)}`)
    .join(' ');
  const barMax = Math.max(1, ...input.up, ...input.down);
  const barWidth = Math.max(2, Math.min(12, step * 0.6));
  const base = LINE_HEIGHT + 4 + BAR_HEIGHT;
  const bars = input.up
    .map((v, i) => {
      const x = (i * step - barWidth / 2).toFixed(1);
      const up = (v / barMax) * BAR_HEIGHT;
      const down = ((input.down[i] ?? 0) / barMax) * BAR_HEIGHT;
      return (
        (up > 0
          ? `<rect x="${x}" y="${(base - up).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${up.toFixed(1)}" fill="#2e7d32"/>`
          : '') +
        (down > 0
          ? `<rect x="${x}" y="${base}" width="${barWidth.toFixed(1)}" height="${down.toFixed(1)}" fill="#c62828"/>`
          : '')
      );
    })
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="-8 0 ${WIDTH + 16} ${HEIGHT + 4}" width="${WIDTH + 16}" height="${HEIGHT + 4}" role="img" class="trend">` +
    `<title>${escapeXml(input.label)}</title>` +
    `<line x1="0" y1="${base}" x2="${WIDTH}" y2="${base}" stroke="#9e9e9e" stroke-width="0.5"/>` +
    bars +
    `<polyline points="${points}" fill="none" stroke="#1565c0" stroke-width="2"/>` +
    `</svg>`
  );
}
