import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { findSubscriberByEmail, withdrawSubscriber } from '../../subscribers/subscriber-repository.js';
import { runCli } from '../helpers/cli.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { importLongIssue } from '../fixtures/long-issue.js';

let temp: TempEnv;
let services: Services;

beforeAll(async () => {
  temp = makeTempEnv();
  services = await temp.open();
  await importLongIssue(services);
});
afterAll(async () => {
  await services?.close();
  temp?.cleanup();
});

function csvFile(name: string, text: string): string {
  const file = path.join(temp.dir, name);
  writeFileSync(file, text);
  return file;
}

async function consentOf(email: string) {
  return services.db
    .selectFrom('consent_log')
    .innerJoin('subscribers', 'subscribers.id', 'consent_log.subscriber_id')
    .select(['consent_log.action', 'consent_log.source', 'consent_log.detail'])
    .where('subscribers.email', '=', email)
    .orderBy('consent_log.id')
    .execute();
}

describe('newsletter subscribers import', () => {
  it('imports the good rows, names each rejected row by line and reason, and exits 2', async () => {
    const file = csvFile(
      'mixed.csv',
      [
        'email,name,topics',
        'ann@example.org,Ann,open-data;shared-ledgers', // 2
        'not-an-address,Bad,', // 3
        '"Bob@Example.ORG ","Bob, Jr.",', // 4
        'carl@example.org,Carl,space-travel', // 5
        '', // 6 (blank lines are skipped but still counted)
        'ANN@example.org,Ann again,', // 7
        'dora@example.org,"Dora', // 8 (a quoted cell spans two lines)
        'Multi",city-services', // 9
        'eve@example.org,Eve,open-data;;city-services', // 10
        ',No address,', // 11
      ].join('\n') + '\n',
    );
    const run = await runCli(['subscribers', 'import', file], temp.env);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('4 added, 0 updated, 0 unchanged, 4 rejected');
    const rejected = run.stderr.split('\n').filter((l) => l.startsWith('  line '));
    expect(rejected).toEqual([
      '  line 3: bad address "not-an-address"',
      expect.stringMatching(
        /^ {2}line 5: carl@example\.org: unknown topic "space-travel" \(topics: office-news, .*open-data/,
      ),
      '  line 7: duplicate in the file: ann@example.org is already on line 2',
      '  line 11: bad address: the email cell is empty',
    ]);

    const ann = await findSubscriberByEmail(services.db, 'ann@example.org');
    expect(ann).toMatchObject({ status: 'active', name: 'Ann', topicSlugs: ['open-data', 'shared-ledgers'] });
    expect(ann?.confirmedAt).not.toBeNull();
    expect(await findSubscriberByEmail(services.db, 'bob@example.org')).toMatchObject({
      name: 'Bob, Jr.',
      topicSlugs: [],
    });
    expect(await findSubscriberByEmail(services.db, 'dora@example.org')).toMatchObject({
      name: 'Dora Multi',
      topicSlugs: ['city-services'],
    });
    expect(await findSubscriberByEmail(services.db, 'eve@example.org')).toMatchObject({
      topicSlugs: ['open-data', 'city-services'],
    });
    expect(await findSubscriberByEmail(services.db, 'carl@example.org')).toBeUndefined();
    expect(await consentOf('ann@example.org')).toEqual([
      { action: 'subscribe', source: 'import', detail: 'CSV line 2' },
    ]);
  });

  it('exits 0 when every row is taken; a re-import updates names and topics without duplicates', async () => {
    const file = csvFile(
      'update.csv',
      'email,name,topics\nann@example.org,Ann Smith,city-services\nbob@example.org,"Bob, Jr.",\nfrank@example.org,,\n',
    );
    const run = await runCli(['subscribers', 'import', file], temp.env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('1 added, 1 updated, 1 unchanged, 0 rejected');
    expect(await findSubscriberByEmail(services.db, 'ann@example.org')).toMatchObject({
      name: 'Ann Smith',
      topicSlugs: ['city-services'],
    });
    const rows = await services.db
      .selectFrom('subscribers')
      .select('email')
      .where('email', '=', 'ann@example.org')
      .execute();
    expect(rows).toHaveLength(1);
    expect((await consentOf('ann@example.org')).map((c) => c.action)).toEqual(['subscribe', 'import-update']);

    // A file without a name column leaves names alone.
    const onlyTopics = csvFile('topics-only.csv', 'email,topics\nann@example.org,open-data\n');
    expect((await runCli(['subscribers', 'import', onlyTopics], temp.env)).code).toBe(0);
    expect(await findSubscriberByEmail(services.db, 'ann@example.org')).toMatchObject({
      name: 'Ann Smith',
      topicSlugs: ['open-data'],
    });
  });

  it('never reactivates unsubscribed, bounced or complained addresses and reports them', async () => {
    for (const [email, status] of [
      ['gone@example.org', 'unsubscribed'],
      ['bounce@example.org', 'bounced'],
      ['spam@example.org', 'complained'],
    ] as const) {
      expect((await runCli(['subscribers', 'add', email], temp.env)).code).toBe(0);
      const s = await findSubscriberByEmail(services.db, email);
      await withdrawSubscriber(services.db, s?.id ?? 0, status, status, { source: 'system' });
    }
    const file = csvFile(
      'withdrawn.csv',
      'email,name,topics\ngone@example.org,G,\nbounce@example.org,B,\nspam@example.org,S,\ngina@example.org,Gina,\n',
    );
    const run = await runCli(['subscribers', 'import', file], temp.env);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('1 added');
    expect(run.stderr).toMatch(
      /line 2: gone@example\.org is unsubscribed since \d{4}-\d\d-\d\d; an import never reactivates it/,
    );
    expect(run.stderr).toMatch(/line 3: bounce@example\.org is bounced since/);
    expect(run.stderr).toMatch(/line 4: spam@example\.org is complained since/);
    expect((await findSubscriberByEmail(services.db, 'gone@example.org'))?.status).toBe('unsubscribed');
    expect((await findSubscriberByEmail(services.db, 'bounce@example.org'))?.status).toBe('bounced');
    expect((await findSubscriberByEmail(services.db, 'spam@example.org'))?.status).toBe('complained');

    // `subscribers add` does not override a withdrawal either.
    const add = await runCli(['subscribers', 'add', 'gone@example.org'], temp.env);
    expect(add.code).toBe(1);
    expect(add.stderr).toMatch(/^Error: gone@example\.org is unsubscribed/);
  });

  it('explains a file it cannot read at all and imports nothing', async () => {
    const count = async () => (await services.db.selectFrom('subscribers').select('id').execute()).length;
    const before = await count();
    const noHeader = await runCli(
      ['subscribers', 'import', csvFile('noheader.csv', 'zed@example.org,Zed,\n')],
      temp.env,
    );
    expect(noHeader.code).toBe(1);
    expect(noHeader.stderr).toMatch(/Line 1: unknown column "zed@example\.org" \(the first line must be the header/);
    const broken = await runCli(
      ['subscribers', 'import', csvFile('broken.csv', 'email,name\nzed@example.org,"Zed\n')],
      temp.env,
    );
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/Nothing was imported/);
    const missing = await runCli(['subscribers', 'import', path.join(temp.dir, 'nope.csv')], temp.env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No file at/);
    expect(await count()).toBe(before);
  });
});

describe('newsletter subscribers add', () => {
  it('adds an active subscriber with consent source cli and checks its input', async () => {
    const run = await runCli(
      ['subscribers', 'add', ' Hal@Example.org', '--name', 'Hal', '--topics', 'open-data,city-services'],
      temp.env,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Added hal@example.org\n');
    expect(await findSubscriberByEmail(services.db, 'hal@example.org')).toMatchObject({
      status: 'active',
      name: 'Hal',
      topicSlugs: ['open-data', 'city-services'],
    });
    expect(await consentOf('hal@example.org')).toEqual([{ action: 'subscribe', source: 'cli', detail: null }]);

    const badTopic = await runCli(['subscribers', 'add', 'ivy@example.org', '--topics', 'nope'], temp.env);
    expect(badTopic.code).toBe(1);
    expect(badTopic.stderr).toMatch(/^Error: Unknown topic "nope"\. Topics: office-news/);
    const badAddress = await runCli(['subscribers', 'add', 'ivy-at-example.org'], temp.env);
    expect(badAddress.code).toBe(1);
    expect(badAddress.stderr).toContain('is not an email address');
  });
});

describe('newsletter subscribers export', () => {
  it('writes every subscriber as CSV and neutralises cells a spreadsheet would run as formulas', async () => {
    const hostile = csvFile(
      'hostile.csv',
      [
        'email,name,topics',
        'f1@example.org,"=HYPERLINK(""http://evil.example"",""x"")",',
        'f2@example.org,+SUM(A1:A9),',
        'f3@example.org,-2+3,',
        'f4@example.org,@cmd,',
        'f5@example.org,"Quote "" and, comma",open-data',
      ].join('\n') + '\n',
    );
    expect((await runCli(['subscribers', 'import', hostile], temp.env)).code).toBe(0);

    const out = path.join(temp.dir, 'export.csv');
    const run = await runCli(['subscribers', 'export', '--out', out], temp.env);
    expect(run.code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text.split('\n')[0]).toBe('email,name,topics,status,subscribed_at');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    const byEmail = new Map(rows.map((r) => [r.email, r]));
    expect(byEmail.get('f1@example.org')?.name).toBe('\'=HYPERLINK("http://evil.example","x")');
    expect(byEmail.get('f2@example.org')?.name).toBe("'+SUM(A1:A9)");
    expect(byEmail.get('f3@example.org')?.name).toBe("'-2+3");
    expect(byEmail.get('f4@example.org')?.name).toBe("'@cmd");
    expect(byEmail.get('f5@example.org')).toMatchObject({
      name: 'Quote " and, comma',
      topics: 'open-data',
      status: 'active',
    });
    expect(byEmail.get('gone@example.org')?.status).toBe('unsubscribed');
    expect(byEmail.get('hal@example.org')?.topics).toBe('open-data;city-services');
    // No cell of the export starts a formula.
    for (const row of rows) for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    const all = await services.db.selectFrom('subscribers').select('id').execute();
    expect(rows).toHaveLength(all.length);

    const stdout = await runCli(['subscribers', 'export'], temp.env);
    expect(stdout.stdout).toBe(text);
  });
});
