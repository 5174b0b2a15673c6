import { describe, expect, it } from 'vitest';
import { chooseTeasers, teaserOrder, type TeaserCandidate } from '../../src/render/edition-fit.js';

const candidate = (id: number, saving: number, annex = false): TeaserCandidate => ({
  id,
  number: id,
  title: `Article ${id}`,
  annex,
  saving,
});

/** An edition whose size is a frame plus each article, full or as a teaser of 500 bytes. */
function edition(frame: number, full: Record<number, number>) {
  const measured: number[][] = [];
  const measure = (teasers: ReadonlySet<number>) => {
    measured.push([...teasers].sort((a, b) => a - b));
    return frame + Object.entries(full).reduce((n, [id, bytes]) => n + (teasers.has(Number(id)) ? 500 : bytes), 0);
  };
  const candidates = Object.entries(full).map(([id, bytes]) => candidate(Number(id), bytes - 500));
  return { measure, measured, candidates };
}

describe('teaserOrder', () => {
  it('puts the annex first of all, then the longest articles first', () => {
    const order = teaserOrder([candidate(1, 900), candidate(2, 4000), candidate(3, 100, true), candidate(4, 4000)]);
    expect(order.map((c) => c.id)).toEqual([3, 2, 4, 1]);
  });
});

describe('chooseTeasers', () => {
  it('leaves an edition within the budget whole, measured once', () => {
    const e = edition(10_000, { 1: 20_000, 2: 30_000 });
    expect(chooseTeasers('auto', 60_000, e.candidates, e.measure)).toEqual({ teasers: new Set(), bytes: 60_000 });
    expect(e.measured).toEqual([[]]);
  });

  it('turns the fewest, longest articles into teasers until the edition fits', () => {
    const e = edition(10_000, { 1: 20_000, 2: 30_000, 3: 25_000, 4: 5_000 });
    const chosen = chooseTeasers('auto', 61_000, e.candidates, e.measure);
    // Without 2 (the longest): 10,000 + 20,000 + 500 + 25,000 + 5,000 = 60,500.
    expect(chosen).toEqual({ teasers: new Set([2]), bytes: 60_500 });
    expect(e.measured.length).toBeLessThanOrEqual(3);
  });

  it('finds the shortest prefix even when the savings guessed are wrong', () => {
    const e = edition(10_000, { 1: 20_000, 2: 30_000, 3: 25_000, 4: 5_000 });
    const misjudged = e.candidates.map((c) => ({ ...c, saving: c.id === 2 ? 1 : c.saving * 3 }));
    const chosen = chooseTeasers('auto', 45_000, misjudged, e.measure);
    const order = teaserOrder(misjudged).map((c) => c.id);
    const k = order.findIndex((_, i) => e.measure(new Set(order.slice(0, i + 1))) <= 45_000) + 1;
    expect(chosen.teasers).toEqual(new Set(order.slice(0, k)));
    expect(chosen.bytes).toBeLessThanOrEqual(45_000);
  });

  it('in `full` mode sends everything whole and reports the size over budget', () => {
    const e = edition(10_000, { 1: 90_000 });
    expect(chooseTeasers('full', 50_000, e.candidates, e.measure)).toEqual({ teasers: new Set(), bytes: 100_000 });
  });

  it('in `teasers` mode sends every article as a teaser', () => {
    const e = edition(10_000, { 1: 9_000, 2: 700 });
    expect(chooseTeasers('teasers', 90_000, e.candidates, e.measure)).toEqual({
      teasers: new Set([1, 2]),
      bytes: 11_000,
    });
  });

  it('sends all as teasers and reports the size when even that cannot fit', () => {
    const e = edition(60_000, { 1: 9_000, 2: 7_000 });
    expect(chooseTeasers('auto', 50_000, e.candidates, e.measure)).toEqual({
      teasers: new Set([1, 2]),
      bytes: 61_000,
    });
  });
});
