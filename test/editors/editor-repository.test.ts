import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/database.js';
import type { Services } from '../../src/app/services.js';
import { deleteEditor, insertEditor, listEditors, updateEditorRole } from '../../editors/editor-repository.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

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

const admins = async () => (await listEditors(services.db)).filter((e) => e.role === 'admin').map((e) => e.email);

describe('editor repository: at least one admin stays', () => {
  it('of two admins removing each other at once, exactly one succeeds and says why the other did not', async () => {
    const a = await insertEditor(services.db, 'a@example.org', 'admin', 'hash');
    const b = await insertEditor(services.db, 'b@example.org', 'admin', 'hash');
    const results = await Promise.all([deleteEditor(services.db, a.id), deleteEditor(second, b.id)]);
    expect(results.sort()).toEqual(['done', 'last-admin']);
    expect(await admins()).toHaveLength(1);
  });

  it('of two admins demoting each other at once, exactly one succeeds', async () => {
    const a = await insertEditor(services.db, 'a@example.org', 'admin', 'hash');
    const b = await insertEditor(services.db, 'b@example.org', 'admin', 'hash');
    const results = await Promise.all([
      updateEditorRole(services.db, a.id, 'editor'),
      updateEditorRole(second, b.id, 'editor'),
    ]);
    expect(results.sort()).toEqual(['done', 'last-admin']);
    expect(await admins()).toHaveLength(1);
  });

  it('removes editors and demotes admins freely while another admin remains; reports a missing editor', async () => {
    const a = await insertEditor(services.db, 'a@example.org', 'admin', 'hash');
    const b = await insertEditor(services.db, 'b@example.org', 'admin', 'hash');
    const e = await insertEditor(services.db, 'e@example.org', 'editor', 'hash');
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
