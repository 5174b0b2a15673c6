import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { importFolder } from '../../src/content/import.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import {
  findSubscriberByEmail,
  listConsentLog,
  resolveTopicSlugs,
  updateSubscriberProfile,
} from '../../subscribers/subscriber-repository.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { ownChoicesAmong } from '../../subscribers/profile-origin.js';
import { runCli } from '../helpers/cli.js';
import { signedUpThroughForm } from '../helpers/form-signup.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// Issue 11 §4: an editor's CSV import does not silently overwrite the name and topics a subscriber
// chose themselves (sign-up or preferences page); it says which rows it kept, and `--overwrite`
// applies the file, logged as the import's change over their choice. Real CLI, real SQLite file.

let temp: TempEnv;
let services: Services;

beforeAll(async () => {
  temp = makeTempEnv();
  services = await temp.open();
  await importFolder(services.db, DEMO_DIR);
  const topics = async (slugs: string[]) => (await resolveTopicSlugs(services.db, slugs)).ids;
  // Signed up through the form (what signup.ts writes), choosing one topic.
  await signedUpThroughForm(services.db, { email: 'ada@example.net', name: 'Ada', topics: ['privacy'] });
  // Added by an editor, then changed their topics on the preferences page (what preferences.ts writes).
  await addSubscriber(
    services.db,
    temp.config.secretKey,
    { email: 'bo@example.net', topics: ['editions'] },
    {
      source: 'cli',
    },
  );
  const bo = await findSubscriberByEmail(services.db, 'bo@example.net');
  if (!bo) throw new Error('bo was added');
  await updateSubscriberProfile(
    services.db,
    bo,
    { name: 'Bo', topicIds: await topics(['sending']) },
    'preferences-changed',
    { source: 'preferences' },
  );
  // Signed up through the form, then an editor set their topics: the editor's change is the latest.
  await signedUpThroughForm(services.db, { email: 'cy@example.net', name: 'Cy', topics: ['privacy'] });
  await addSubscriber(
    services.db,
    temp.config.secretKey,
    { email: 'cy@example.net', topics: ['editions'] },
    {
      source: 'cli',
    },
  );
});
afterAll(async () => {
  await services?.close();
  temp?.cleanup();
});

function csv(name: string, content: string): string {
  const target = path.join(temp.dir, name);
  writeFileSync(target, content);
  return target;
}

async function topicsOf(email: string): Promise<string[]> {
  return (await findSubscriberByEmail(services.db, email))?.topicSlugs ?? [];
}

describe('who set a subscriber’s choice', () => {
  it('is read from the consent log: the latest change of name or topics, and its source', async () => {
    const ids = await services.db.selectFrom('subscribers').select(['id', 'email']).orderBy('email').execute();
    const own = await ownChoicesAmong(
      services.db,
      ids.map((r) => r.id),
    );
    const byEmail = new Map(ids.map((r) => [r.email, own.get(r.id)]));
    expect(byEmail.get('ada@example.net')).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(byEmail.get('bo@example.net')).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(byEmail.get('cy@example.net')).toBeUndefined();
  });
});

describe('a CSV import and a subscriber’s own choice', () => {
  const today = new Date().toISOString().slice(0, 10);
  const file = () =>
    csv(
      'editor.csv',
      'email,name,topics\nada@example.net,Ada Lovelace,editions;sending\nbo@example.net,Bo,privacy\ncy@example.net,Cy,sending\nnew@example.net,New,privacy\n',
    );

  it('keeps what subscribers chose themselves, names each kept row, and applies the rest', async () => {
    const run = await runCli(['subscribers', 'import', file()], temp.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('1 added, 1 updated, 2 unchanged, 0 rejected');
    expect(run.stdout).toContain(`line 2: kept the name and topics ada@example.net chose on ${today}`);
    expect(run.stdout).toContain(`line 3: kept the topics bo@example.net chose on ${today}`);
    expect(run.stdout).not.toContain('cy@example.net');
    expect(await topicsOf('ada@example.net')).toEqual(['privacy']);
    expect((await findSubscriberByEmail(services.db, 'ada@example.net'))?.name).toBe('Ada');
    expect(await topicsOf('bo@example.net')).toEqual(['sending']);
    // The editor's own earlier setting is the editor's to change again.
    expect(await topicsOf('cy@example.net')).toEqual(['sending']);
    expect(await topicsOf('new@example.net')).toEqual(['privacy']);
  });

  it('applies the file over their choice with --overwrite, and the consent log says so', async () => {
    const run = await runCli(['subscribers', 'import', file(), '--overwrite'], temp.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('0 added, 2 updated, 2 unchanged, 0 rejected');
    expect(run.stdout).not.toContain('kept');
    expect(await topicsOf('ada@example.net')).toEqual(['editions', 'sending']);
    expect((await findSubscriberByEmail(services.db, 'ada@example.net'))?.name).toBe('Ada Lovelace');
    expect(await topicsOf('bo@example.net')).toEqual(['privacy']);
    const ada = await findSubscriberByEmail(services.db, 'ada@example.net');
    expect((await listConsentLog(services.db, ada?.id ?? 0)).at(-1)).toMatchObject({
      action: 'import-overwrite',
      source: 'import',
    });
    // From now on the import's setting is the latest: a plain import applies to them again.
    const again = await runCli(
      ['subscribers', 'import', csv('again.csv', 'email,topics\nada@example.net,privacy\n')],
      temp.env,
    );
    expect(again.stdout).toContain('0 added, 1 updated, 0 unchanged, 0 rejected');
    expect(await topicsOf('ada@example.net')).toEqual(['privacy']);
  });
});

describe('a CSV import and a sign-up not confirmed yet', () => {
  const today = new Date().toISOString().slice(0, 10);
  const statusOf = async (email: string) => (await findSubscriberByEmail(services.db, email))?.status;
  const logOf = async (email: string) =>
    (await listConsentLog(services.db, (await findSubscriberByEmail(services.db, email))?.id ?? 0)).map((e) => ({
      action: e.action,
      source: e.source,
      detail: e.detail,
    }));

  beforeAll(async () => {
    // Signed up through the form and never confirmed (what signup.ts writes before the link is used).
    for (const [email, topics] of [
      ['pen@example.net', ['privacy']],
      ['pat@example.net', ['privacy']],
    ] as const) {
      await signedUpThroughForm(services.db, { email, name: 'P', topics: [...topics], status: 'pending' });
    }
  });

  it('leaves them pending, whatever the file’s status column says, and names each row', async () => {
    // As another instance's export would have them: active there.
    const file = csv(
      'pending.csv',
      'email,name,topics,status\npen@example.net,P,privacy,active\npat@example.net,P,sending,active\n',
    );
    const run = await runCli(['subscribers', 'import', file], temp.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('0 added, 0 updated, 2 unchanged, 0 rejected');
    const lines = run.stdout.split('\n').map((l) => l.trim());
    expect(lines).toContain(`line 2: kept pen@example.net pending confirmation (signed up on ${today}, not confirmed)`);
    // A row that would also change their own choice is named for both.
    expect(lines).toContain(`line 3: kept the topics pat@example.net chose on ${today}`);
    expect(lines).toContain(`line 3: kept pat@example.net pending confirmation (signed up on ${today}, not confirmed)`);
    expect(run.stdout).toContain('an import confirms it only when the row has a consent cell');
    expect(await statusOf('pen@example.net')).toBe('pending');
    expect(await statusOf('pat@example.net')).toBe('pending');
    expect(await logOf('pen@example.net')).toEqual([{ action: 'signup', source: 'form', detail: null }]);
  });

  it('--overwrite applies the name and topics but confirms nobody', async () => {
    const file = csv('pending-overwrite.csv', 'email,name,topics\npat@example.net,Pat,sending\n');
    const run = await runCli(['subscribers', 'import', file, '--overwrite'], temp.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('0 added, 1 updated, 0 unchanged, 0 rejected');
    expect(run.stdout).toContain(
      `line 2: kept pat@example.net pending confirmation (signed up on ${today}, not confirmed)`,
    );
    expect(run.stdout).not.toContain('kept the');
    expect(await findSubscriberByEmail(services.db, 'pat@example.net')).toMatchObject({
      status: 'pending',
      name: 'Pat',
      topicSlugs: ['sending'],
    });
    expect((await logOf('pat@example.net')).map((e) => e.action)).toEqual(['signup', 'import-overwrite']);
  });

  it('confirms a row whose consent cell says where they agreed, logged with it; their choice stays theirs', async () => {
    const consent = 'signed the paper form at the members’ meeting, 2026-11-12';
    const tooLong = 'x'.repeat(201);
    const file = csv(
      'consent.csv',
      `email,topics,consent\npen@example.net,privacy,"${consent}"\npat@example.net,sending,${tooLong}\nnew.one@example.net,privacy,agreed on the phone\n`,
    );
    const run = await runCli(['subscribers', 'import', file], temp.env);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('1 added, 1 updated, 0 unchanged, 1 rejected');
    expect(run.stdout).not.toContain('pen@example.net');
    expect(run.stderr).toContain('line 3: consent is longer than 200 characters');
    const pen = await findSubscriberByEmail(services.db, 'pen@example.net');
    expect(pen?.status).toBe('active');
    expect(pen?.confirmedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect((await logOf('pen@example.net')).at(-1)).toEqual({
      action: 'confirm',
      source: 'import',
      detail: `CSV line 2; consent: ${consent}`,
    });
    expect(await statusOf('pat@example.net')).toBe('pending');
    expect(await logOf('new.one@example.net')).toEqual([
      { action: 'subscribe', source: 'import', detail: 'CSV line 4; consent: agreed on the phone' },
    ]);
    // The confirmation is not a change of their topics: a later import still keeps what they chose.
    const later = await runCli(
      ['subscribers', 'import', csv('later.csv', 'email,topics\npen@example.net,editions\n')],
      temp.env,
    );
    expect(later.stdout).toContain(`line 2: kept the topics pen@example.net chose on ${today}`);
    expect(await topicsOf('pen@example.net')).toEqual(['privacy']);
  });
});
