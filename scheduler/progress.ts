import cliProgress from 'cli-progress';
import type { DeliveryCounts } from './delivery-repository.js';
import type { SendProgress } from './send-manager.js';

/** What `newsletter send` shows while it works: a bar on a terminal, periodic lines otherwise. */
export interface ProgressReporter {
  update(progress: SendProgress): void;
  /** Ends the bar (or prints a last line); the summary is printed by the caller. */
  finish(): void;
}

export interface ProgressOptions {
  stream: NodeJS.WritableStream;
  label: string;
  /** Draw a bar (stream is a terminal); otherwise print a plain line every `intervalMs`. */
  tty: boolean;
  intervalMs?: number;
  /** Milliseconds now; Date.now unless given (tests pass their own clock). */
  clock?: () => number;
}

export function done(counts: DeliveryCounts): number {
  return counts.sent + counts.skipped + counts.failed;
}

/** Messages per second over the last few seconds, and the time left at that rate. */
class RateMeter {
  private samples: { t: number; sent: number }[] = [];

  sample(sentThisRun: number, now: number): void {
    this.samples.push({ t: now, sent: sentThisRun });
    while (this.samples.length > 2 && now - (this.samples[0]?.t ?? now) > 5000) this.samples.shift();
  }

  rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.t - first.t < 200) return 0;
    return ((last.sent - first.sent) * 1000) / (last.t - first.t);
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function etaText(rate: number, remaining: number): string {
  if (remaining === 0) return '0s';
  return rate > 0 ? formatDuration(remaining / rate) : '--';
}

export function createProgressReporter(options: ProgressOptions): ProgressReporter {
  return options.tty ? new BarReporter(options) : new LineReporter(options);
}

class BarReporter implements ProgressReporter {
  private readonly bar: cliProgress.SingleBar;
  private readonly meter = new RateMeter();
  private started = false;
  private lastDraw = 0;
  private readonly clock: () => number;

  constructor(options: ProgressOptions) {
    this.clock = options.clock ?? Date.now;
    this.bar = new cliProgress.SingleBar(
      {
        stream: options.stream,
        format: `${options.label} {bar} {percentage}% | {value}/{total} | {rate} msg/s | ETA {etaText} | {failed} failed{waiting}`,
        hideCursor: true,
        clearOnComplete: false,
        // We redraw ourselves on updates, throttled below.
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  update(progress: SendProgress): void {
    const now = this.clock();
    this.meter.sample(progress.sentThisRun, now);
    if (this.started && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const total = progress.counts.planned;
    const value = done(progress.counts);
    const rate = this.meter.rate();
    const payload = {
      rate: rate.toFixed(0),
      etaText: etaText(rate, total - value),
      failed: progress.counts.failed,
      waiting: progress.waitingUntil
        ? ` | waiting for retries until ${progress.waitingUntil.toLocaleTimeString()}`
        : '',
    };
    if (!this.started) {
      this.bar.start(total, value, payload);
      this.started = true;
    } else {
      this.bar.setTotal(total);
      this.bar.update(value, payload);
    }
  }

  finish(): void {
    if (this.started) this.bar.stop();
  }
}

class LineReporter implements ProgressReporter {
  private readonly meter = new RateMeter();
  private lastLine = 0;
  private last: SendProgress | null = null;
  private readonly intervalMs: number;
  private readonly clock: () => number;

  constructor(private readonly options: ProgressOptions) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.clock = options.clock ?? Date.now;
  }

  update(progress: SendProgress): void {
    const now = this.clock();
    this.meter.sample(progress.sentThisRun, now);
    this.last = progress;
    if (this.lastLine === 0) this.lastLine = now;
    if (now - this.lastLine >= this.intervalMs) {
      this.lastLine = now;
      this.print(progress);
    }
  }

  finish(): void {
    if (this.last && this.lastLine !== 0) this.print(this.last);
  }

  private print(progress: SendProgress): void {
    const c = progress.counts;
    const value = done(c);
    const pct = c.planned > 0 ? Math.floor((value * 100) / c.planned) : 100;
    const rate = this.meter.rate();
    const waiting = progress.waitingUntil ? `, waiting for retries until ${progress.waitingUntil.toISOString()}` : '';
    this.options.stream.write(
      `${this.options.label}: ${value}/${c.planned} done (${pct}%), ${c.sent} sent, ${c.skipped} skipped, ${c.failed} failed, ` +
        `${rate.toFixed(0)} msg/s, ETA ${etaText(rate, c.planned - value)}${waiting}\n`,
    );
  }
}
