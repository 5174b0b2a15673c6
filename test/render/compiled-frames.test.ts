import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { freezeIssueContent, getIssueRow } from '../../src/content/content-repository.js';
import { nowIso } from '../../src/db/database.js';
import { frameSourceHash, ownCopy, saveCompiledFrame, shareable } from '../../src/render/compiled-frames.js';
import type { PersonalFields } from '../../src/render/personal-fields.js';
import { importLongIssue } from '../fixtures/long-issue.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

const FIELDS: PersonalFields = {
  name: "Zoë <O'Brien>",
  email: 'z@example.org',
  webUrl: 'https://news.example/issues/x',
  manageUrl: 'https://news.example/preferences?token=a.b',
  unsubscribeUrl: 'https://news.example/unsubscribe?token=c.d',
};
const TOPIC_SETS = [null, ['shared-ledgers'], ['city-services', 'open-data']];

/** Two processes' worth of services on one database: the one that started the send, and a sender. */
describe('the compiled frame of a frozen issue, shared through the database', () => {
  let env: TempEnv;
  let first: Services;
  let second: Services;
  let slug: string;

  beforeAll(async () => {
    env = makeTempEnv();
    first = await env.open();
    second = await env.open();
    slug = await importLongIssue(first);
  });

  afterAll(async () => {
    await second?.close();
    await first?.close();
    env?.cleanup();
  });

  const rowsOf = async (services: Services) =>
    services.db.selectFrom('compiled_frames').select(['issue_id', 'source_hash']).execute();

  it('is compiled by each process while the issue is a draft, and never stored', async () => {
    await first.renderer.edition(slug, null);
    expect(first.renderer.compileCount).toBe(1);
    expect(await rowsOf(first)).toEqual([]);
  });

  it('is compiled once once the send started: another process reads it and never starts MJML', async () => {
    const issue = await getIssueRow(first.db, slug);
    if (!issue) throw new Error('no issue');
    const now = nowIso();
    await first.db
      .updateTable('issues')
      .set({ status: 'sending', started_at: now })
      .where('id', '=', issue.id)
      .execute();
    await freezeIssueContent(first.db, issue.id, now);
    first.renderer.invalidate();
    const compiles = first.renderer.compileCount;
    const fromFirst = [];
    for (const topics of TOPIC_SETS) fromFirst.push((await first.renderer.edition(slug, topics)).fill(FIELDS));
    expect(first.renderer.compileCount - compiles).toBe(1);
    expect(await rowsOf(first)).toHaveLength(1);

    for (const [i, topics] of TOPIC_SETS.entries()) {
      // Byte for byte what the process that compiled it produces.
      expect((await second.renderer.edition(slug, topics)).fill(FIELDS)).toEqual(fromFirst[i]);
    }
    expect(second.renderer.compileCount).toBe(0);
    expect(second.renderer.framesRead).toBe(1);
    expect(second.mjml.running).toBe(false);
  });

  it('is found by what was compiled: a different MJML source is another frame', () => {
    const source = '<mjml><mj-body><mj-text>A</mj-text></mj-body></mjml>';
    expect(frameSourceHash(source)).toBe(frameSourceHash(source));
    expect(frameSourceHash(source)).not.toBe(frameSourceHash(source.replace('A', 'B')));
  });

  it("is stored without this process's token nonce, and another process reads it with its own", () => {
    // Two processes' token prefixes (personal-fields.ts makes a random one per process).
    const [a, b] = ['NLF0123456789abx', 'NLFba9876543210x'];
    const fromA = shareable(`<p>Dear ${a}namex, <a href="${a}unsubscribeUrlx">leave</a></p>`, a);
    if (fromA === undefined) throw new Error('not shareable');
    expect(fromA).not.toContain(a);
    expect(ownCopy(fromA, b)).toBe(`<p>Dear ${b}namex, <a href="${b}unsubscribeUrlx">leave</a></p>`);
    // The same MJML rendered by either process is found under one hash.
    const source = (prefix: string) => shareable(`<mj-text>${prefix}emailx</mj-text>`, prefix) ?? '';
    expect(frameSourceHash(source(a))).toBe(frameSourceHash(source(b)));
    // Content quoting the shared form cannot be shared (it would become a token when read).
    expect(shareable('<p>NLF-shared-x</p>', a)).toBeUndefined();
  });

  it('is dropped once its issue no longer sends', async () => {
    const issue = await getIssueRow(first.db, slug);
    if (!issue) throw new Error('no issue');
    await first.db.updateTable('issues').set({ status: 'sent' }).where('id', '=', issue.id).execute();
    await saveCompiledFrame(first.db, { issueId: issue.id, sourceHash: 'another', html: '<html></html>' }, nowIso());
    expect(await rowsOf(first)).toEqual([]);
  });
});
