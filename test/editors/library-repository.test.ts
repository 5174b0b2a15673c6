import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { nowIso } from '../../src/db/database.js';
import { insertArticle, issuesHoldingArticle, listLibrary } from '../../editors/library-repository.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { importLongIssue, LONG_ISSUE } from '../fixtures/long-issue.js';

describe('the article library’s queries', () => {
  let env: TempEnv;
  let services: Services;
  let sectionId: number;
  const add = async (title: string, tags: string[] = [], body = 'Body.') =>
    insertArticle(services.db, {
      title,
      sectionTopicId: sectionId,
      extraTopicIds: [],
      tags,
      takeaway: null,
      sources: [],
      bodyMarkdown: body,
    });

  beforeAll(async () => {
    env = makeTempEnv();
    services = await env.open();
    await importLongIssue(services);
    sectionId = (
      await services.db.selectFrom('topics').select('id').where('slug', '=', 'open-data').executeTakeFirstOrThrow()
    ).id;
  });
  afterAll(async () => {
    await services.close();
    env.cleanup();
  });

  it('finds a search holding % or _ literally, and only what holds it', async () => {
    await add('Growth of 50% in a year');
    await add('Names in snake_case');
    await add('Backslash \\ in a title');
    const titles = async (q: string) => (await listLibrary(services.db, { q })).map((a) => a.title);
    expect(await titles('50%')).toEqual(['Growth of 50% in a year']);
    // The long issue's table holds “+30%” too.
    expect(await titles('%')).toEqual(['Growth of 50% in a year', 'Three Numbers That Describe Our Year']);
    expect(await titles('snake_case')).toEqual(['Names in snake_case']);
    expect(await titles('_')).toEqual(['Names in snake_case']);
    expect(await titles('\\')).toEqual(['Backslash \\ in a title']);
    expect(await titles('GROWTH OF')).toEqual(['Growth of 50% in a year']);
  });

  it('filters by tag before the list is cut at 500, so an old tagged article is found', async () => {
    const old = await add('An old article with a rare tag', ['Rare Tag']);
    // 510 newer articles: the tagged one is beyond the 500 most recent.
    const later = new Date(Date.now() + 60_000).toISOString();
    for (let i = 0; i < 510; i++) await add(`Filler ${i}`, ['Filler']);
    await services.db.updateTable('articles').set({ updated_at: later }).where('title', 'like', 'Filler %').execute();
    expect((await listLibrary(services.db, {})).map((a) => a.id)).not.toContain(old.id);
    expect((await listLibrary(services.db, { tag: 'rare tag' })).map((a) => a.title)).toEqual([
      'An old article with a rare tag',
    ]);
    expect(await listLibrary(services.db, { tag: 'no such tag' })).toEqual([]);
  });

  it('names the issues holding one article by its id, however large the library', async () => {
    const first = await services.db
      .selectFrom('articles')
      .select('id')
      .where('slug', '=', LONG_ISSUE.articles[0]?.file.replace(/\.md$/, '') ?? '')
      .executeTakeFirstOrThrow();
    expect(await issuesHoldingArticle(services.db, first.id)).toEqual([
      { slug: LONG_ISSUE.slug, title: LONG_ISSUE.title, status: 'draft' },
    ]);
    const loose = await add('In no issue', [], nowIso());
    expect(await issuesHoldingArticle(services.db, loose.id)).toEqual([]);
  });
});
