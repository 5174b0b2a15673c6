import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { listIssues, listPublicIssues } from '../../src/content/content-repository.js';
import type { IssueStatus } from '../../src/db/schema.js';
import { listIssuesWithStatus } from '../../scheduler/delivery-repository.js';
import { QueryRecorder } from '../helpers/query-recorder.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

let env: TempEnv;
let services: Services;
beforeAll(async () => {
  env = makeTempEnv();
  services = await env.open();
  const issues: { slug: string; status: IssueStatus; sent: string | null; started: string | null; created: string }[] =
    [
      {
        slug: 'sent-old',
        status: 'sent',
        sent: '2026-01-10T09:00:00.000Z',
        started: '2026-01-10T08:00:00.000Z',
        created: '2026-01-01T00:00:00.000Z',
      },
      { slug: 'draft-new', status: 'draft', sent: null, started: null, created: '2026-06-01T00:00:00.000Z' },
      {
        slug: 'sent-new',
        status: 'sent',
        sent: '2026-03-10T09:00:00.000Z',
        started: '2026-03-10T08:00:00.000Z',
        created: '2026-02-01T00:00:00.000Z',
      },
      { slug: 'draft-old', status: 'draft', sent: null, started: null, created: '2026-04-01T00:00:00.000Z' },
      { slug: 'scheduled', status: 'scheduled', sent: null, started: null, created: '2026-05-01T00:00:00.000Z' },
    ];
  for (const i of issues) {
    await services.db
      .insertInto('issues')
      .values({
        slug: i.slug,
        title: i.slug,
        edition: '',
        period: '',
        editor_note_markdown: '',
        status: i.status,
        send_at: i.status === 'scheduled' ? '2099-01-01T00:00:00.000Z' : null,
        started_at: i.started,
        sent_at: i.sent,
        pause_reason: null,
        created_at: i.created,
        updated_at: i.created,
      })
      .execute();
  }
});
afterAll(async () => {
  await services.close();
  env.cleanup();
});

/** Every ORDER BY item of the recorded queries whose column is one of `columns`, as kysely's nodes. */
function orderItemsOn(recorder: QueryRecorder, columns: string[]): { column: string; nulls?: string }[] {
  const found: { column: string; nulls?: string }[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (record.kind === 'OrderByItemNode') {
      const column = /"name":"([a-z_]+)"/.exec(JSON.stringify(record.orderBy))?.[1] ?? '';
      if (columns.includes(column)) found.push({ column, nulls: record.nulls as string | undefined });
    }
    Object.values(record).forEach(walk);
  };
  for (const query of recorder.queries) walk(JSON.parse(query));
  return found;
}

describe('ordered lists of issues', () => {
  it('lists sent issues newest first, then unsent ones newest created first', async () => {
    expect((await listIssues(services.db)).map((i) => i.slug)).toEqual([
      'sent-new',
      'sent-old',
      'draft-new',
      'scheduled',
      'draft-old',
    ]);
    expect((await listPublicIssues(services.db)).map((i) => i.slug)).toEqual(['sent-new', 'sent-old']);
    expect((await listIssuesWithStatus(services.db, 'draft')).map((i) => i.slug)).toEqual(['draft-new', 'draft-old']);
  });

  it('says where NULLs go in the SQL, so SQLite and PostgreSQL order alike', async () => {
    const recorder = new QueryRecorder();
    const db = services.db.withPlugin(recorder);
    await listIssues(db);
    await listPublicIssues(db);
    await listIssuesWithStatus(db, 'sending');
    const items = orderItemsOn(recorder, ['sent_at', 'started_at']);
    expect(items.map((i) => i.column).sort()).toEqual(['sent_at', 'sent_at', 'started_at']);
    for (const item of items) expect(item.nulls, `ORDER BY ${item.column}`).toBe('last');
  });
});
