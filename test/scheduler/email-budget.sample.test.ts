// The real sample issue (../shared/sample): left out by vitest.config.ts when it is absent.
import { beforeAll, describe, expect, it } from 'vitest';
import { importFolder } from '../../src/content/import.js';
import { SAMPLE_DIR } from '../helpers/sample.js';
import {
  BUDGET,
  budgetServices,
  describeEveryEditionWithinBudget,
  setEmailFit,
  type EmailFit,
} from './budget-checks.js';

const services = budgetServices();
describeEveryEditionWithinBudget('the real sample issue', () => SAMPLE_DIR, services, { fitted: true });

describe('the editor’s choice on the real sample issue', () => {
  let slug: string;
  beforeAll(async () => {
    slug = (await importFolder(services().db, SAMPLE_DIR)).slug;
  });
  const setFit = (fit: EmailFit) => setEmailFit(services(), slug, fit);

  it('auto: the annex becomes a teaser first, then the longest articles', async () => {
    await setFit('auto');
    const { fit } = await services().renderer.edition(slug, null);
    expect(fit.mode).toBe('auto');
    expect(fit.teasers[0]).toBeDefined();
    expect(fit.teasers.some((t) => t.title.startsWith('SESEC IV Report'))).toBe(true);
    expect(fit.teasers.length).toBeLessThan(20);
  });

  it('full: nothing becomes a teaser, and the edition says it is over budget', async () => {
    await setFit('full');
    const { fit } = await services().renderer.edition(slug, null);
    expect(fit).toMatchObject({ mode: 'full', teasers: [], overBudget: true });
    expect(fit.bytes).toBeGreaterThan(BUDGET);
  });

  it('teasers: every article is a teaser, even in an edition that would fit', async () => {
    await setFit('teasers');
    const edition = await services().renderer.edition(slug, ['blockchain']);
    expect(edition.fit.teasers.map((t) => t.number)).toEqual([1, 2]);
    expect(
      edition.fill(services().renderer.previewFields(slug, ['blockchain'])).html.match(/Read the full article/g),
    ).toHaveLength(2);
  });
});
