import { sql, type Kysely } from 'kysely';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { describeSchema, renderSchemaTypes, type TableShape } from '../../src/db/schema-types.js';
import { GENERATED_FILE, schemaTypesOf } from '../../scripts/db-types.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { testDialect } from '../helpers/test-database.js';

describe(`the schema's types against what the migrations build on ${testDialect()}`, () => {
  let env: TempEnv;
  let services: Services;
  let db: Kysely<unknown>;
  beforeAll(async () => {
    env = makeTempEnv();
    services = await env.open();
    db = services.db as unknown as Kysely<unknown>;
  });
  afterAll(async () => {
    await services.close();
    env.cleanup();
  });

  it('src/db/schema.generated.ts is what `npm run db:types` writes from them (run it after a migration)', async () => {
    expect(await schemaTypesOf(db, testDialect())).toBe(readFileSync(GENERATED_FILE, 'utf8'));
  });

  it('every CHECK list takes each of its values and refuses any other, in the database itself', async () => {
    const now = new Date().toISOString();
    await sql`insert into topics (slug, name, position) values ('ai', 'AI', 0)`.execute(db);
    await sql`insert into issues (slug, title, created_at, updated_at) values ('jan', 'January', ${now}, ${now})`.execute(
      db,
    );
    await sql`insert into subscribers (uid, email, status, created_at, updated_at)
      values ('u1', 'ada@example.org', 'active', ${now}, ${now})`.execute(db);
    await sql`insert into consent_log (subscriber_id, action, source, created_at)
      values (1, 'signup', 'form', ${now})`.execute(db);
    await sql`insert into deliveries (issue_id, subscriber_id, edition_key, status, created_at)
      values (1, 1, 'ai', 'pending', ${now})`.execute(db);
    await sql`insert into editors (email, password_hash, role, created_at)
      values ('ed@example.org', 'x', 'editor', ${now})`.execute(db);
    await sql`insert into feedback_events (event_key, source, kind, outcome, received_at)
      values ('e1', 'smtp', 'hard', 'bounced', ${now})`.execute(db);
    await sql`insert into unsubscribe_requests (id, subscriber_uid, source, requested_at)
      values ('r1', 'u1', 'one-click', ${now})`.execute(db);
    await sql`insert into outbox_events (type, subject, data, created_at)
      values ('issue.sent', 'issue:jan', '{}', ${now})`.execute(db);
    await sql`insert into webhook_endpoints (url, description, events, secret, after_event_id, created_by, created_at)
      values ('https://crm.example.org/h', '', 'issue.sent', 'whsec_x', 0, 'test', ${now})`.execute(db);
    await sql`insert into webhook_deliveries (endpoint_id, event_id, status, attempts, created_at)
      values (1, 1, 'pending', 0, ${now})`.execute(db);
    await sql`insert into tracked_links (issue_id, edition_key, kind, position, url, created_at)
      values (1, '*', 'link', 0, 'https://example.org/', ${now})`.execute(db);

    const checked = (await describeSchema(db, testDialect())).flatMap((t) =>
      t.columns.flatMap((c) => (c.oneOf ? [{ table: t.name, column: c.name, values: c.oneOf }] : [])),
    );
    expect(checked.map((c) => `${c.table}.${c.column}`).sort()).toEqual([
      'consent_log.source',
      'deliveries.status',
      'editors.role',
      'feedback_events.kind',
      'feedback_events.outcome',
      'feedback_events.source',
      'issues.bounce_check',
      'issues.email_fit',
      'issues.status',
      'outbox_events.type',
      'subscribers.status',
      'tracked_links.kind',
      'tracking_settings.level',
      'unsubscribe_requests.source',
      'webhook_deliveries.status',
    ]);
    for (const { table, column, values } of checked) {
      const rows = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db);
      expect(rows.rows[0]?.n, `seed a row of ${table} in this test`).toBe(1);
      for (const value of values) await sql`update ${sql.table(table)} set ${sql.ref(column)} = ${value}`.execute(db);
      await expect(
        sql`update ${sql.table(table)} set ${sql.ref(column)} = ${'not-a-' + column}`.execute(db),
        `${table}.${column}`,
      ).rejects.toThrow(/check/i);
    }
  });
});

describe('renderSchemaTypes', () => {
  const table = (columns: TableShape['columns']): TableShape[] => [{ name: 'send_claims', columns }];
  const column = (name: string, more: Partial<TableShape['columns'][number]> = {}) => ({
    name,
    type: 'string' as const,
    nullable: false,
    generated: false,
    oneOf: undefined,
    ...more,
  });

  it('writes Generated<> for defaults and identities, | null for nullable columns, and CHECK lists as constants', () => {
    const text = renderSchemaTypes(
      table([
        column('id', { type: 'number', generated: true }),
        column('state', { oneOf: ['live', "it's"], generated: true }),
        column('seen_at', { nullable: true }),
      ]),
    );
    expect(text).toContain(`export const SEND_CLAIMS_STATE_VALUES = ['live', 'it\\'s'] as const;`);
    expect(text).toContain(
      [
        'export interface SendClaimsTable {',
        '  id: Generated<number>;',
        '  state: Generated<(typeof SEND_CLAIMS_STATE_VALUES)[number]>;',
        '  seen_at: string | null;',
        '}',
      ].join('\n'),
    );
    expect(text).toContain('  send_claims: SendClaimsTable;');
  });

  it('lists boolean columns for the SQLite plugin, and refuses a name a non-boolean column also has', () => {
    expect(renderSchemaTypes(table([column('done', { type: 'boolean' })]))).toContain(
      "export const BOOLEAN_COLUMNS: readonly string[] = ['done'];",
    );
    expect(() =>
      renderSchemaTypes([
        { name: 'a', columns: [column('done', { type: 'boolean' })] },
        { name: 'b', columns: [column('done', { type: 'number' })] },
      ]),
    ).toThrow('b.done: a boolean column elsewhere has this name; give the boolean another one');
  });
});
