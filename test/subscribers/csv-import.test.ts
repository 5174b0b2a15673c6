import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { importFolder } from '../../src/content/import.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { findSubscriberByEmail } from '../../subscribers/subscriber-repository.js';
import { runCli } from '../helpers/cli.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// Issue 9 item 14: our own export imports back unchanged, and files in other encodings are
// converted or refused with the encoding named, through the real CLI and a real SQLite file.

let temp: TempEnv;
let services: Services;

beforeAll(async () => {
  temp = makeTempEnv();
  services = await temp.open();
  await importFolder(services.db, DEMO_DIR);
});
afterAll(async () => {
  await services?.close();
  temp?.cleanup();
});

function file(name: string, content: string | Buffer): string {
  const target = path.join(temp.dir, name);
  writeFileSync(target, content);
  return target;
}

async function everyone() {
  return services.db
    .selectFrom('subscribers')
    .select(['email', 'name', 'status', 'updated_at'])
    .orderBy('email')
    .execute();
}

describe('CSV round trip', () => {
  it('re-imports its own export unchanged: no new subscriber, no renamed one, no apostrophe left', async () => {
    const original = file(
      'tricky.csv',
      [
        'email,name,topics',
        '+plus@example.org,Plus,editions',
        '-dash@example.org,@home,',
        'eq@example.org,=1+2,sending;privacy',
        'tab@example.org,"\tTabbed",',
        "plain@example.org,O'Brien,",
      ].join('\n') + '\n',
    );
    const first = await runCli(['subscribers', 'import', original], temp.env);
    expect(first.stderr).toBe('');
    expect(first.stdout).toContain('5 added, 0 updated, 0 unchanged, 0 rejected');
    // A name typed with its own apostrophe in front (on the sign-up form, or here) survives too.
    expect(
      (await runCli(['subscribers', 'add', 'quote@example.org', '--name', "'@already quoted"], temp.env)).code,
    ).toBe(0);
    const before = await everyone();

    const exported = path.join(temp.dir, 'export.csv');
    expect((await runCli(['subscribers', 'export', '--out', exported], temp.env)).code).toBe(0);
    const text = readFileSync(exported, 'utf8');
    // The export still neutralises (a spreadsheet runs none of these cells)…
    expect(text).toContain("'+plus@example.org,Plus,editions,active");
    expect(text).toContain("'-dash@example.org,'@home,,active");
    expect(text).toContain("''@already quoted");

    // …and the import takes exactly that apostrophe off again.
    const again = await runCli(['subscribers', 'import', exported], temp.env);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 added, 0 updated, 6 unchanged, 0 rejected');
    expect(await everyone()).toEqual(before);
    expect(await findSubscriberByEmail(services.db, '-dash@example.org')).toMatchObject({ name: '@home' });
    expect(await findSubscriberByEmail(services.db, 'quote@example.org')).toMatchObject({ name: "'@already quoted" });
    expect(await findSubscriberByEmail(services.db, 'eq@example.org')).toMatchObject({
      name: '=1+2',
      topicSlugs: ['sending', 'privacy'],
    });
    expect(await findSubscriberByEmail(services.db, "'+plus@example.org")).toBeUndefined();
  });

  it('refuses an address with a stray apostrophe in front instead of storing it', async () => {
    const run = await runCli(
      ['subscribers', 'import', file('stray.csv', "email,name\n'stray@example.org,Stray\n")],
      temp.env,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `line 2: bad address "'stray@example.org": remove the apostrophe in front (spreadsheets add it to mark text)`,
    );
    expect(await findSubscriberByEmail(services.db, "'stray@example.org")).toBeUndefined();
    expect(await findSubscriberByEmail(services.db, 'stray@example.org')).toBeUndefined();
  });
});

describe('another instance’s export (its status column)', () => {
  it('adds its active rows, and refuses the addresses that withdrew or never confirmed there', async () => {
    const run = await runCli(
      [
        'subscribers',
        'import',
        file(
          'other-instance.csv',
          [
            'email,name,topics,status,subscribed_at',
            'kept.on@example.org,Kept,,active,2025-01-02T10:00:00.000Z',
            'left@example.org,Left,,unsubscribed,2025-01-02T10:00:00.000Z',
            'full.box@example.org,Full,,bounced,2025-01-02T10:00:00.000Z',
            'never.clicked@example.org,Never,,pending,',
            'spreadsheet@example.org,Sheet,,Subscribed,',
          ].join('\n') + '\n',
        ),
      ],
      temp.env,
    );
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('2 added, 0 updated, 0 unchanged, 3 rejected');
    expect(run.stderr).toContain(
      'line 3: left@example.org is unsubscribed in the file; an import never subscribes an address that withdrew',
    );
    expect(run.stderr).toContain('line 4: full.box@example.org is bounced in the file');
    expect(run.stderr).toContain(
      'line 5: never.clicked@example.org is pending in the file: they never confirmed, and an import does not confirm anyone',
    );
    for (const email of ['left@example.org', 'full.box@example.org', 'never.clicked@example.org']) {
      expect(await findSubscriberByEmail(services.db, email), email).toBeUndefined();
    }
    // A status that is not one of ours (another tool's word) is ignored, as before.
    expect(await findSubscriberByEmail(services.db, 'spreadsheet@example.org')).toMatchObject({ status: 'active' });
    expect(await findSubscriberByEmail(services.db, 'kept.on@example.org')).toMatchObject({ status: 'active' });

    // With a consent cell, a row pending there is added: the editor answers for where they agreed.
    const vouched = await runCli(
      [
        'subscribers',
        'import',
        file('vouched.csv', 'email,status,consent\nnever.clicked@example.org,pending,confirmed by phone 2026-11-20\n'),
      ],
      temp.env,
    );
    expect(vouched.code).toBe(0);
    expect(await findSubscriberByEmail(services.db, 'never.clicked@example.org')).toMatchObject({ status: 'active' });
  });
});

describe('CSV encodings', () => {
  const rows = 'email,name,topics\nzoe@example.org,Zoë Ångström,editions\nli@example.org,李小龍,\n';

  it('reads UTF-16 with a byte-order mark (Excel’s "Unicode text"), both byte orders, and UTF-8 with one', async () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(rows, 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16();
    for (const [name, bytes] of [
      ['utf16le.csv', le],
      ['utf16be.csv', be],
      ['utf8bom.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(rows)])],
      ['utf16le-no-bom.csv', Buffer.from(rows, 'utf16le')],
    ] as const) {
      const run = await runCli(['subscribers', 'import', file(name, bytes)], temp.env);
      expect(run.stderr, name).toBe('');
      expect(run.code, name).toBe(0);
      expect(await findSubscriberByEmail(services.db, 'zoe@example.org'), name).toMatchObject({
        name: 'Zoë Ångström',
        topicSlugs: ['editions'],
      });
      expect(await findSubscriberByEmail(services.db, 'li@example.org'), name).toMatchObject({ name: '李小龍' });
    }
  });

  it('refuses a Latin-1 file with the encoding named and imports nothing; --encoding converts it', async () => {
    const latin1 = file(
      'latin1.csv',
      Buffer.from('email,name\nrene@example.org,René\nfrancois@example.org,François Lefèvre\n', 'latin1'),
    );
    const refused = await runCli(['subscribers', 'import', latin1], temp.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/The file is not UTF-8: line 2 holds the byte 0xE9/);
    expect(refused.stderr).toMatch(/most likely Windows-1252 \(Latin-1\)/);
    expect(refused.stderr).toMatch(/--encoding windows-1252/);
    expect(refused.stderr).toMatch(/Nothing was imported/);
    expect(await findSubscriberByEmail(services.db, 'rene@example.org')).toBeUndefined();

    const converted = await runCli(['subscribers', 'import', latin1, '--encoding', 'windows-1252'], temp.env);
    expect(converted.code).toBe(0);
    expect(await findSubscriberByEmail(services.db, 'rene@example.org')).toMatchObject({ name: 'René' });
    expect(await findSubscriberByEmail(services.db, 'francois@example.org')).toMatchObject({
      name: 'François Lefèvre',
    });

    const unknown = await runCli(['subscribers', 'import', latin1, '--encoding', 'klingon'], temp.env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/"klingon" is not an encoding this import knows/);
  });

  it('refuses UTF-32 and a UTF-8 file with a broken byte after its mark, naming them', async () => {
    const utf32 = Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), Buffer.from('e\0\0\0')]);
    const run32 = await runCli(['subscribers', 'import', file('utf32.csv', utf32)], temp.env);
    expect(run32.code).toBe(1);
    expect(run32.stderr).toMatch(/The file is UTF-32, which this import does not read\. Save the file as UTF-8/);
    const broken = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('email\nx@example.org'),
      Buffer.from([0xff]),
    ]);
    const runBroken = await runCli(['subscribers', 'import', file('broken-utf8.csv', broken)], temp.env);
    expect(runBroken.code).toBe(1);
    expect(runBroken.stderr).toMatch(/The file starts as UTF-8 but holds bytes that are not UTF-8/);
  });
});
