import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialectOf, openDatabase, type Db } from '../../src/db/database.js';
import type { Services } from '../../src/app/services.js';
import { deleteEditor, insertEditor, listEditors, updateEditorRole } from '../../editors/editor-repository.js';
import { eventually } from '../helpers/eventually.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { testDialect } from '../helpers/test-database.js';

// "The last admin cannot be removed" is one guarded statement, so two admins acting at once
// (two tabs, two processes) cannot leave the service without an admin.

let env: TempEnv;
let services: Services;
let second: Db;

beforeEach(async () => {
  env = makeTempEnv();
  services = await env.open();
  // A second connection to the same SQLite file, as a second process would have.
  second = openDatabase(env.config.databaseUrl);
});

afterEach(async () => {
  await second.destroy();
  await services.close();
  env.cleanup();
});

/**
 * Resolves once some connection of this database waits for a row lock (PostgreSQL's view of its
 * sessions). SQLite shows no such thing: its waiter retries on timers until the lock is free, so
 * there this resolves at once and the order is the same either way.
 */
async function waitingForALock(db: Db): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await eventually(
    'a connection to wait for the lock (connections waiting)',
    async () => {
      const { rows } = await sql<{ n: number }>`select count(*) as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`.execute(db);
      return Number(rows[0]?.n);
    },
    { holds: (waiting) => waiting > 0, intervalMs: 10 },
  );
}

const admins = async () => (await listEditors(services.db)).filter((e) => e.role === 'admin').map((e) => e.email);

describe('editor repository: at least one admin stays', () => {
  it('of two admins removing each other at once, exactly one succeeds and says why the other did not', async () => {
    const a = await insertEditor(services.db, 'a@example.org', 'admin', 'hash', 'chosen');
    const b = await insertEditor(services.db, 'b@example.org', 'admin', 'hash', 'chosen');
    const results = await Promise.all([deleteEditor(services.db, a.id), deleteEditor(second, b.id)]);
    expect(results.sort()).toEqual(['done', 'last-admin']);
    expect(await admins()).toHaveLength(1);
  });

  it('of two admins demoting each other at once, exactly one succeeds', async () => {
    const a = await insertEditor(services.db, 'a@example.org', 'admin', 'hash', 'chosen');
    const b = await insertEditor(services.db, 'b@example.org', 'admin', 'hash', 'chosen');
    const results = await Promise.all([
      updateEditorRole(services.db, a.id, 'editor'),
      updateEditorRole(second, b.id, 'editor'),
    ]);
    expect(results.sort()).toEqual(['done', 'last-admin']);
    expect(await admins()).toHaveLength(1);
  });

  it.each([
    ['demoting', (db: Db, id: number) => updateEditorRole(db, id, 'editor')],
    ['removing', (db: Db, id: number) => deleteEditor(db, id)],
  ] as const)(
    `%s the last admin waits for another connection's uncommitted demotions, then refuses (${testDialect()})`,
    async (_, change) => {
      const a = await insertEditor(services.db, 'a@example.org', 'admin', 'hash', 'chosen');
      const b = await insertEditor(services.db, 'b@example.org', 'admin', 'hash', 'chosen');
      const c = await insertEditor(services.db, 'c@example.org', 'admin', 'hash', 'chosen');
      let racing: Promise<string> | undefined;
      // Decided on what it could see before that transaction commits (a and b still admins), the
      // change to c would go through and leave no admin.
      await second.transaction().execute(async (trx) => {
        await trx.updateTable('editors').set({ role: 'editor' }).where('id', 'in', [a.id, b.id]).execute();
        racing = change(services.db, c.id);
        await Promise.race([racing, waitingForALock(second)]);
      });
      expect(await racing).toBe('last-admin');
      expect(await admins()).toEqual(['c@example.org']);
    },
  );

  it('removes editors and demotes admins freely while another admin remains; reports a missing editor', async () => {
    const a = await insertEditor(services.db, 'a@example.org', 'admin', 'hash', 'chosen');
    const b = await insertEditor(services.db, 'b@example.org', 'admin', 'hash', 'chosen');
    const e = await insertEditor(services.db, 'e@example.org', 'editor', 'hash', 'chosen');
    expect(await updateEditorRole(services.db, b.id, 'editor')).toBe('done');
    expect(await updateEditorRole(services.db, a.id, 'editor')).toBe('last-admin');
    expect(await updateEditorRole(services.db, a.id, 'admin')).toBe('done');
    expect(await deleteEditor(services.db, e.id)).toBe('done');
    expect(await deleteEditor(services.db, e.id)).toBe('missing');
    expect(await deleteEditor(services.db, a.id)).toBe('last-admin');
    expect((await listEditors(services.db)).map((x) => `${x.email}:${x.role}`)).toEqual([
      'a@example.org:admin',
      'b@example.org:editor',
    ]);
  });
});
