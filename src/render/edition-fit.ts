import type { EmailFit } from '../content/types.js';

/** An article of an edition that may be sent as a teaser. */
export interface TeaserCandidate {
  /** The article's id. */
  id: number;
  /** Its number in the edition. */
  number: number;
  title: string;
  /** An article of the annex: it becomes a teaser before any other. */
  annex: boolean;
  /** Roughly how many bytes the email saves when this article is a teaser (full minus teaser, as sent). */
  saving: number;
}

/** How an edition met the size budget; shown to editors in the preview, the edition matrix and the CLI. */
export interface EditionFit {
  mode: EmailFit;
  /** EMAIL_HTML_BUDGET. */
  budget: number;
  /**
   * The HTML part as sent (quoted-printable) to the subscriber with the largest personal fields,
   * plus the room kept for tracked links (README: Size budget).
   */
  bytes: number;
  /** The articles sent as teasers, in edition order. */
  teasers: { number: number; title: string }[];
  /** More than the budget: only in `full` mode, or when even an edition of teasers cannot fit. */
  overBudget: boolean;
}

/** The order in which articles become teasers: the annex first of all, then the longest first. */
export function teaserOrder(candidates: readonly TeaserCandidate[]): TeaserCandidate[] {
  return [...candidates].sort(
    (a, b) => Number(b.annex) - Number(a.annex) || b.saving - a.saving || a.number - b.number,
  );
}

/**
 * Chooses the articles an edition sends as teasers. `full`: none; `teasers`: all; `auto`: the
 * shortest prefix of `teaserOrder` that brings the edition within the budget, so the rest stay in
 * full. `measure` renders the edition with a set of teasers and returns its size as sent; the
 * savings only guess where to start, so an edition is measured two or three times, not once per
 * article.
 */
export function chooseTeasers(
  mode: EmailFit,
  budget: number,
  candidates: readonly TeaserCandidate[],
  measure: (teasers: ReadonlySet<number>) => number,
): { teasers: Set<number>; bytes: number } {
  const order = mode === 'auto' ? teaserOrder(candidates) : [...candidates];
  const sizes = new Map<number, number>();
  const prefix = (k: number) => new Set(order.slice(0, k).map((c) => c.id));
  const sizeWith = (k: number): number => {
    let bytes = sizes.get(k);
    if (bytes === undefined) {
      bytes = measure(prefix(k));
      sizes.set(k, bytes);
    }
    return bytes;
  };
  const chosen = (k: number) => ({ teasers: prefix(k), bytes: sizeWith(k) });
  if (mode === 'full') return chosen(0);
  if (mode === 'teasers') return chosen(order.length);

  const whole = sizeWith(0);
  if (whole <= budget) return chosen(0);
  let k = 0;
  for (let estimate = whole; k < order.length && estimate > budget; k++)
    estimate -= (order[k] as TeaserCandidate).saving;
  if (sizeWith(k) <= budget) {
    // One teaser fewer is measured only when it might fit: the savings are close guesses, and a
    // size it could not reach (saving cut by a fifth for safety) is not worth a render.
    const mightFit = (j: number) => sizeWith(j) + 0.8 * (order[j - 1] as TeaserCandidate).saving <= budget;
    while (k > 0 && mightFit(k) && sizeWith(k - 1) <= budget) k--;
  } else {
    while (k < order.length && sizeWith(k) > budget) k++;
  }
  return chosen(k);
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/**
 * One line for editors (`newsletter render`, the preview): the edition's size against the budget
 * and its teasers; loud when it is over, as Gmail will clip it.
 */
export function describeFit(fit: EditionFit): string {
  const size = `${kib(fit.bytes)} of the ${kib(fit.budget)} email budget`;
  if (fit.overBudget) {
    const why = fit.mode === 'full' ? 'email_fit is full' : 'even as teasers the articles do not fit';
    return `WARNING: ${kib(fit.bytes)}, OVER the ${kib(fit.budget)} email budget (${why}): Gmail will clip this email and hide its end, the unsubscribe link included`;
  }
  if (fit.teasers.length === 0) return `${size}; every article in full`;
  const list = fit.teasers.map((t) => `${t.number}. ${t.title}`).join('; ');
  return `${size}; ${fit.teasers.length} article${fit.teasers.length === 1 ? '' : 's'} as teasers: ${list}`;
}
