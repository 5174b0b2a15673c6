import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importLongIssue, LONG_ISSUE, articlesFor, writeLongIssue } from '../fixtures/long-issue.js';
import { budgetServices, describeEveryEditionWithinBudget, setEmailFit, type EmailFit } from './budget-checks.js';

const services = budgetServices();
describeEveryEditionWithinBudget("the project's long issue", () => writeLongIssue(), services, { fitted: true });
describeEveryEditionWithinBudget('the demo issue', () => DEMO_DIR, services, { fitted: false });

// The long issue's whole edition is about 88 KB as sent: under a 60 KB budget it must be fitted.
const SMALL_BUDGET = 61_440;

describe('the editor’s choice per issue', () => {
  const services = budgetServices({ EMAIL_HTML_BUDGET: String(SMALL_BUDGET) });
  const slug = LONG_ISSUE.slug;
  const annex = LONG_ISSUE.articles.find((a) => a.section === 'Annex');
  beforeAll(async () => {
    await importLongIssue(services());
  });
  const setFit = (fit: EmailFit) => setEmailFit(services(), slug, fit);

  it('auto: the annex becomes a teaser first, then the longest articles', async () => {
    await setFit('auto');
    const { fit } = await services().renderer.edition(slug, null);
    expect(fit.mode).toBe('auto');
    expect(fit.teasers.map((t) => t.title)).toContain(annex?.title);
    expect(fit.teasers.length).toBeLessThan(LONG_ISSUE.articles.length);
    expect(fit.bytes).toBeLessThanOrEqual(SMALL_BUDGET);
  });

  it('full: nothing becomes a teaser, and the edition says it is over budget', async () => {
    await setFit('full');
    const { fit } = await services().renderer.edition(slug, null);
    expect(fit).toMatchObject({ mode: 'full', teasers: [], overBudget: true });
    expect(fit.bytes).toBeGreaterThan(SMALL_BUDGET);
  });

  it('teasers: every article is a teaser, even in an edition that would fit', async () => {
    await setFit('teasers');
    const topics = ['shared-ledgers'];
    const edition = await services().renderer.edition(slug, topics);
    const held = articlesFor(topics);
    expect(held.length).toBeGreaterThan(0);
    expect(edition.fit.teasers.map((t) => t.title)).toEqual(held.map((a) => a.title));
    expect(
      edition.fill(services().renderer.previewFields(slug, topics)).html.match(/Read the full article/g),
    ).toHaveLength(held.length);
  });
});
