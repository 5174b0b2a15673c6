import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { CsvImportError } from '../../subscribers/csv-import.js';
import { importSubscribersCsvInThread } from '../../subscribers/csv-import-thread.js';
import { findSubscriberByEmail, listConsentLog } from '../../subscribers/subscriber-repository.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { testDialect } from '../helpers/test-database.js';

// Issue 9 item 3: the editors' upload imports in a worker thread with its own connection to the
// same real database; the report and the errors are the importer's own.

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

const job = (input: Uint8Array | string, options = {}) => ({
  databaseUrl: temp.config.databaseUrl,
  secretKey: temp.config.secretKey,
  input,
  options,
});

describe('a CSV import in a thread of its own', () => {
  it('writes into the caller’s database and hands back the report', async () => {
    const csv = ['email,name,topics', 'ann@example.org,Ann,editions', 'bob@example.org,Bob,', 'not-an-address,X,'];
    const report = await importSubscribersCsvInThread(job(new TextEncoder().encode(csv.join('\n') + '\n')));
    expect(report).toMatchObject({ added: 2, updated: 0, unchanged: 0, kept: [] });
    expect(report.rejected).toEqual([{ line: 4, email: 'not-an-address', reason: 'bad address "not-an-address"' }]);
    const ann = await findSubscriberByEmail(services.db, 'ann@example.org');
    expect(ann).toMatchObject({ name: 'Ann', status: 'active', topicSlugs: ['editions'] });
    expect((await listConsentLog(services.db, ann!.id)).at(-1)).toMatchObject({
      action: 'subscribe',
      source: 'import',
    });
    // The same file again changes nothing; the options reach the importer (a pasted text, too).
    const again = await importSubscribersCsvInThread(job(csv.join('\n'), { overwrite: true }));
    expect(again).toMatchObject({ added: 0, updated: 0, unchanged: 2 });
    expect(threadId).toBe(0);
  });

  it('a file the importer refuses rejects with its CsvImportError, and nothing is written', async () => {
    const error = await importSubscribersCsvInThread(job('mail,name\nzed@example.org,Zed\n')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CsvImportError);
    expect((error as Error).message).toMatch(/^Line 1: unknown column "mail"/);
    expect(await findSubscriberByEmail(services.db, 'zed@example.org')).toBeUndefined();
  });

  it.skipIf(testDialect() === 'postgres')(
    'an error that is not the file’s (a database that cannot be opened) rejects as a plain Error',
    async () => {
      const notAFolder = path.join(temp.dir, 'not-a-folder');
      writeFileSync(notAFolder, '');
      const error = await importSubscribersCsvInThread({
        ...job('email\nzed@example.org\n'),
        databaseUrl: path.join(notAFolder, 'newsletter.db'),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(CsvImportError);
      expect((error as Error).message).toMatch(/ENOTDIR|EEXIST/);
    },
  );
});
