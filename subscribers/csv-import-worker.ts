import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase, type Db } from '../src/db/database.js';
import { CsvImportError, importSubscribersCsv } from './csv-import.js';
import type { CsvImportJob, CsvImportReply } from './csv-import-thread.js';

// The thread csv-import-thread.ts starts for one import: its own database connection, the
// importer's rules unchanged, one reply, then it ends.

const job = workerData as CsvImportJob;
let db: Db | undefined;
let reply: CsvImportReply;
try {
  db = openDatabase(job.databaseUrl);
  reply = { ok: true, report: await importSubscribersCsv(db, job.secretKey, job.input, job.options) };
} catch (error) {
  reply = {
    ok: false,
    message: error instanceof Error ? error.message : String(error),
    csvError: error instanceof CsvImportError,
  };
} finally {
  await db?.destroy();
}
parentPort?.postMessage(reply);
