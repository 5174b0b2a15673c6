import { Worker } from 'node:worker_threads';
import { CsvImportError, type CsvImportOptions, type CsvImportReport } from './csv-import.js';

// The editors' upload imports in a worker thread with its own database connection, as the CLI does
// in its own process. In the web server's thread, reading, checking and writing 100,000 rows held
// its event loop in turns of up to ~40 ms (each write batch runs SQLite synchronously) and every
// other request's queries queued behind the batches: one-click unsubscribes reached p99 1.4 s and
// /healthz 360 ms on a loaded machine. In a thread of its own the import is just another writer:
// the server's writes wait for the lock between its batches on timers, its reads never wait.

export interface CsvImportJob {
  databaseUrl: string;
  secretKey: string;
  input: Uint8Array | string;
  options: CsvImportOptions;
}

export type CsvImportReply =
  | { ok: true; report: CsvImportReport }
  | { ok: false; message: string; /** a CsvImportError: a message for the editor */ csvError: boolean };

/**
 * The thread's module: the built JavaScript next to this file when the service runs, the TypeScript
 * source through tsx when the tests run this module from source.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './csv-import-worker.ts' : './csv-import-worker.js', import.meta.url);
const WORKER_EXEC_ARGV = FROM_SOURCE ? ['--import', 'tsx'] : [];

/** `importSubscribersCsv` in a thread of its own; rejects with CsvImportError as it does. */
export function importSubscribersCsvInThread(job: CsvImportJob): Promise<CsvImportReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: job, execArgv: WORKER_EXEC_ARGV });
    let replied = false;
    worker.once('message', (reply: CsvImportReply) => {
      replied = true;
      if (reply.ok) resolve(reply.report);
      else reject(reply.csvError ? new CsvImportError(reply.message) : new Error(reply.message));
    });
    worker.once('error', (error) => {
      replied = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!replied) reject(new Error(`The import thread ended (exit code ${code}) before it answered.`));
    });
  });
}
