import { CsvError, parse } from 'csv-parse';
import { finished } from 'node:stream/promises';
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../src/db/database.js';
import { SUBSCRIBERS_STATUS_VALUES, type SubscriberStatus } from '../src/db/schema.js';
import { erasedAddressHash, parseEmail } from './address.js';
import { CsvEncodingError, decodeCsvBytes } from './csv-encoding.js';
import { restoreNeutralised } from './csv-formula.js';
import { cleanName, MAX_NAME_LENGTH } from './form-input.js';
import {
  activateSubscriber,
  createSubscribers,
  erasedHashesAmong,
  findSubscribersByEmails,
  resolveTopicSlugs,
  topicIdsBySlug,
  updateSubscriberProfile,
  WITHDRAWN_STATUSES,
  type NewSubscriber,
} from './subscriber-repository.js';
import { ownChoicesAmong } from './profile-origin.js';

// `newsletter subscribers import <file.csv>` and the editors' upload (README, "CSV import and export").
// Header `email,name,topics` (topics: slugs separated by `;`; empty = every topic). The columns
// `status` and `subscribed_at` of our own export are accepted and ignored, and the apostrophe the
// export puts before a cell a spreadsheet would run as a formula is taken off again, so an export
// re-imports unchanged. The file's encoding is detected (csv-encoding.ts).
// A re-import updates name and topics from the file; a column left out of the header is left
// unchanged. Unsubscribed, bounced, complained and erased addresses are never (re)activated.
// A subscriber's own choice is theirs: when they last set their name and topics themselves (sign-up
// or preferences page; profile-origin.ts), a row that differs leaves them as they are and the report
// names it, unless `overwrite` is given (then the consent log records the import over their choice).
// So is their confirmation: an import never confirms a pending sign-up (that would bypass the double
// opt-in) unless the row's optional `consent` cell says where the person agreed (the editor answers
// for it; the consent log keeps it). `overwrite` does not confirm anyone: it is about names and
// topics, not consent. A new address in the file is added active, its consent the editor's,
// unless the file's `status` column (another instance's export) says it withdrew or never
// confirmed there: such a row is refused rather than subscribed (a pending one with a consent cell
// is added). For an address already here, this database's status counts, not the file's.
//
// Every row is checked before anything is written. Good rows are then written in transactions that
// hold the write lock for about WRITE_BATCH_MS each, with a pause between them, so that other
// writers (a one-click unsubscribe in the web server, a send) wait at most one batch, never the
// whole file; and the file is read in
// slices that give the event loop back in between, so a web server importing an upload keeps
// answering. An import stopped half-way (a crash, a database locked for too long) has written
// whole batches only; running it again finishes it, as rows already imported are left unchanged.

export class CsvImportError extends Error {}

export interface RejectedRow {
  line: number;
  email: string;
  reason: string;
}

/** What a row would have changed of the name and topics a subscriber chose. */
export type ChosenFields = 'name' | 'topics' | 'name and topics';

/** A row that would have changed what the subscriber chose themselves, left as they chose it. */
export type KeptRow =
  | {
      kept: 'choice';
      line: number;
      email: string;
      /** What the row would have changed. */
      fields: ChosenFields;
      /** When the subscriber made their choice (ISO). */
      chosenAt: string;
    }
  | {
      /** A sign-up not confirmed yet, left pending: the row has no consent cell. */
      kept: 'pending';
      line: number;
      email: string;
      /** When they signed up (ISO). */
      signedUpAt: string;
    };

export interface CsvImportReport {
  added: number;
  updated: number;
  unchanged: number;
  rejected: RejectedRow[];
  /**
   * What was left as the subscribers chose: their name and topics (none with `overwrite`), and
   * sign-ups left pending. A row may be named twice (its topics and its pending confirmation).
   */
  kept: KeptRow[];
}

/**
 * "line 7: kept the topics ada@example.net chose on 2026-11-20";
 * "line 8: kept bo@example.net pending confirmation (signed up on 2026-11-21, not confirmed)"
 */
export function keptRowText(row: KeptRow): string {
  return row.kept === 'choice'
    ? `line ${row.line}: kept the ${row.fields} ${row.email} chose on ${row.chosenAt.slice(0, 10)}`
    : `line ${row.line}: kept ${row.email} pending confirmation (signed up on ${row.signedUpAt.slice(0, 10)}, not confirmed)`;
}

/** What the editor can do about the kept rows, one sentence each (the CLI's and the app's words). */
export function keptRowHints(kept: readonly KeptRow[], overwrite = 'run the import again with --overwrite'): string[] {
  const hints: string[] = [];
  if (kept.some((row) => row.kept === 'choice')) {
    hints.push(`To apply the file's names and topics to them too, ${overwrite}.`);
  }
  if (kept.some((row) => row.kept === 'pending')) {
    hints.push(
      'A pending sign-up is confirmed by its owner through the link we mailed them; an import confirms it only when the row has a consent cell saying where and how they agreed.',
    );
  }
  return hints;
}

/** The longest `consent` cell: where and how the person agreed, in a few words. */
export const MAX_CONSENT_LENGTH = 200;

const KNOWN_COLUMNS = ['email', 'name', 'topics', 'consent', 'status', 'subscribed_at'] as const;
type Column = (typeof KNOWN_COLUMNS)[number];

interface GoodRow {
  line: number;
  email: string;
  name: string | undefined;
  topicSlugs: string[] | undefined;
  /** Where and how the person agreed, as the file says; '' when it says nothing. */
  consent: string;
  /** The `status` cell when it is one of ours (an export's); anything else in it is ignored. */
  fileStatus: SubscriberStatus | undefined;
}

interface ParsedRecord {
  record: string[];
  info: { lines: number };
}

/**
 * A write transaction takes rows in groups of WRITE_GROUP_ROWS and commits once it has held the
 * write lock for WRITE_BATCH_MS (or after WRITE_BATCH_MAX_ROWS): bounded in time, not in rows, so
 * a slow or loaded machine makes batches smaller instead of making others wait longer.
 */
const WRITE_GROUP_ROWS = 100;
const WRITE_BATCH_MS = 40;
const WRITE_BATCH_MAX_ROWS = 2_000;
/**
 * Pause between two write transactions: longer than the longest pause of a writer waiting for the
 * lock (lock-waiting-sqlite.ts), so one that waits always gets in before the next batch.
 */
const WRITE_BATCH_PAUSE_MS = 15;
/** Characters handed to the CSV parser before the event loop gets a turn. */
const PARSE_SLICE_CHARS = 16_384;
/** Rows checked before the event loop gets a turn. */
const CHECK_SLICE_ROWS = 2_000;

function csvSyntaxError(error: CsvError): CsvImportError {
  const line = (error as CsvError & { lines?: number }).lines;
  return new CsvImportError(
    `${line !== undefined ? `line ${line}: ` : ''}${error.message}. Nothing was imported; fix the file and run the import again.`,
  );
}

async function readRecords(text: string): Promise<ParsedRecord[]> {
  const parser = parse({
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    record_delimiter: ['\r\n', '\n', '\r'],
  });
  const records: ParsedRecord[] = [];
  let failed = false;
  parser.on('readable', () => {
    for (
      let record = parser.read() as ParsedRecord | null;
      record !== null;
      record = parser.read() as ParsedRecord | null
    )
      records.push(record);
  });
  parser.once('error', () => (failed = true));
  const done = finished(parser);
  for (let at = text.startsWith('\uFEFF') ? 1 : 0; at < text.length && !failed;) {
    let end = Math.min(text.length, at + PARSE_SLICE_CHARS);
    // Never split a surrogate pair: each slice is encoded on its own.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last < 0xdc00) end--;
    parser.write(text.slice(at, end));
    at = end;
    await yieldToEventLoop();
  }
  if (!failed) parser.end();
  try {
    await done;
  } catch (error) {
    if (error instanceof CsvError) throw csvSyntaxError(error);
    throw error;
  }
  return records;
}

/** The line a record starts on: csv-parse reports where it ends, and quoted cells may span lines. */
function startLine(parsed: ParsedRecord): number {
  const breaks = parsed.record.reduce((n, cell) => n + (cell.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
  return parsed.info.lines - breaks;
}

function readHeader(record: string[] | undefined): Map<Column, number> {
  if (!record) throw new CsvImportError('The file is empty. Its first line must be the header: email,name,topics');
  const columns = new Map<Column, number>();
  record.forEach((raw, index) => {
    const name = raw.trim().toLowerCase();
    if (!(KNOWN_COLUMNS as readonly string[]).includes(name)) {
      const hint = name.includes('@') ? ' (the first line must be the header, not an address)' : '';
      throw new CsvImportError(`Line 1: unknown column "${raw}"${hint}. The header must be: email,name,topics`);
    }
    if (columns.has(name as Column)) throw new CsvImportError(`Line 1: column "${name}" appears twice`);
    columns.set(name as Column, index);
  });
  if (!columns.has('email'))
    throw new CsvImportError('Line 1: the header has no "email" column. The header must be: email,name,topics');
  return columns;
}

export interface CsvImportOptions {
  /** The file's encoding, for a file that is neither UTF-8 nor UTF-16 with a byte-order mark. */
  encoding?: string;
  /** Apply the file even over a name and topics the subscriber chose themselves (logged as such). */
  overwrite?: boolean;
}

/** Decodes the file (bytes) or takes the pasted text as it is. */
function fileText(input: Uint8Array | string, options: CsvImportOptions): string {
  if (typeof input === 'string') return input;
  try {
    return decodeCsvBytes(input, options.encoding);
  } catch (error) {
    if (error instanceof CsvEncodingError) throw new CsvImportError(`${error.message}. Nothing was imported.`);
    throw error;
  }
}

function topicSlugsOf(raw: string): string[] {
  return [
    ...new Set(
      raw
        .split(';')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    ),
  ];
}

/** Reads and checks every row; nothing is written. */
async function checkRows(db: Db, records: ParsedRecord[]): Promise<{ good: GoodRow[]; rejected: RejectedRow[] }> {
  const header = readHeader(records[0]?.record);
  const cell = (record: string[], column: Column): string | undefined => {
    const index = header.get(column);
    return index === undefined ? undefined : restoreNeutralised(record[index] ?? '');
  };
  const rejected: RejectedRow[] = [];
  const good: GoodRow[] = [];
  const firstLineOf = new Map<string, number>();
  const { known } = await resolveTopicSlugs(db, []);
  const knownTopics = new Set(known);

  for (let index = 1; index < records.length; index++) {
    if (index % CHECK_SLICE_ROWS === 0) await yieldToEventLoop();
    const parsed = records[index] as ParsedRecord;
    const { record } = parsed;
    if (record.every((c) => c.trim() === '')) continue;
    const line = startLine(parsed);
    const rawEmail = (cell(record, 'email') ?? '').trim();
    const reject = (reason: string) => rejected.push({ line, email: rawEmail, reason });

    if (record.length > header.size) {
      reject(`has ${record.length} cells but the header has ${header.size} (quote cells that contain commas)`);
      continue;
    }
    if (rawEmail.startsWith("'")) {
      reject(`bad address "${rawEmail}": remove the apostrophe in front (spreadsheets add it to mark text)`);
      continue;
    }
    const email = parseEmail(rawEmail);
    if (!email) {
      reject(rawEmail === '' ? 'bad address: the email cell is empty' : `bad address "${rawEmail}"`);
      continue;
    }
    const earlier = firstLineOf.get(email);
    if (earlier !== undefined) {
      reject(`duplicate in the file: ${email} is already on line ${earlier}`);
      continue;
    }
    firstLineOf.set(email, line);

    const rawName = cell(record, 'name');
    const name = rawName === undefined ? undefined : cleanName(rawName);
    if (name !== undefined && name.length > MAX_NAME_LENGTH) {
      reject(`name is longer than ${MAX_NAME_LENGTH} characters`);
      continue;
    }
    const rawTopics = cell(record, 'topics');
    const topicSlugs = rawTopics === undefined ? undefined : topicSlugsOf(rawTopics);
    const unknown = topicSlugs?.filter((s) => !knownTopics.has(s)) ?? [];
    if (unknown.length > 0) {
      const list = known.length > 0 ? known.join(', ') : 'none yet (import an issue first)';
      reject(
        `${email}: unknown topic${unknown.length > 1 ? 's' : ''} ${unknown.map((s) => `"${s}"`).join(', ')} (topics: ${list})`,
      );
      continue;
    }
    const consent = cleanName(cell(record, 'consent'));
    if (consent.length > MAX_CONSENT_LENGTH) {
      reject(`consent is longer than ${MAX_CONSENT_LENGTH} characters (say in a few words where and how they agreed)`);
      continue;
    }
    const rawStatus = cell(record, 'status')?.trim().toLowerCase();
    const fileStatus = SUBSCRIBERS_STATUS_VALUES.find((status) => status === rawStatus);
    good.push({ line, email, name, topicSlugs, consent, fileStatus });
  }
  return { good, rejected };
}

interface BatchOutcome {
  added: number;
  updated: number;
  unchanged: number;
  rejected: RejectedRow[];
  kept: KeptRow[];
}

function changedFields(nameDiffers: boolean, topicsDiffer: boolean): ChosenFields {
  return nameDiffers && topicsDiffer ? 'name and topics' : nameDiffers ? 'name' : 'topics';
}

function addUp(total: BatchOutcome, part: BatchOutcome): void {
  total.added += part.added;
  total.updated += part.updated;
  total.unchanged += part.unchanged;
  total.rejected.push(...part.rejected);
  total.kept.push(...part.kept);
}

function sameTopics(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join(';') === [...b].sort().join(';');
}

/** Why a row's address, new to this database, is not added; undefined when it is. */
function newAddressRefusal(row: GoodRow, erased: boolean): string | undefined {
  if (erased) {
    return `${row.email} was erased at the owner's request; an import cannot add it back (the owner can sign up again)`;
  }
  if (row.fileStatus !== undefined && WITHDRAWN_STATUSES.includes(row.fileStatus)) {
    return `${row.email} is ${row.fileStatus} in the file; an import never subscribes an address that withdrew (the owner can sign up again)`;
  }
  if (row.fileStatus === 'pending' && row.consent === '') {
    return `${row.email} is pending in the file: they never confirmed, and an import does not confirm anyone (add a consent cell saying where and how they agreed, or let them sign up)`;
  }
  return undefined;
}

/** Writes a group of checked rows inside the caller's transaction. */
async function writeBatch(
  trx: Db,
  batch: readonly GoodRow[],
  secretKey: string,
  topicIdOf: ReadonlyMap<string, number>,
  overwrite: boolean,
): Promise<BatchOutcome> {
  const outcome: BatchOutcome = { added: 0, updated: 0, unchanged: 0, rejected: [], kept: [] };
  const existing = await findSubscribersByEmails(
    trx,
    batch.map((row) => row.email),
  );
  const ownChoice = await ownChoicesAmong(
    trx,
    [...existing.values()].map((s) => s.id),
  );
  const hashOf = new Map(
    batch.filter((row) => !existing.has(row.email)).map((row) => [row.email, erasedAddressHash(secretKey, row.email)]),
  );
  const erased = await erasedHashesAmong(trx, [...hashOf.values()]);
  const created: NewSubscriber[] = [];
  for (const row of batch) {
    const topicIds = row.topicSlugs?.map((slug) => topicIdOf.get(slug) as number);
    const context = { source: 'import' as const };
    const detail = row.consent === '' ? `CSV line ${row.line}` : `CSV line ${row.line}; consent: ${row.consent}`;
    const subscriber = existing.get(row.email);
    if (!subscriber) {
      const refused = newAddressRefusal(row, erased.has(hashOf.get(row.email) as string));
      if (refused) {
        outcome.rejected.push({ line: row.line, email: row.email, reason: refused });
      } else {
        created.push({
          email: row.email,
          name: row.name ?? '',
          status: 'active',
          topicIds: topicIds ?? [],
          action: 'subscribe',
          context,
          detail,
        });
      }
      continue;
    }
    if (WITHDRAWN_STATUSES.includes(subscriber.status)) {
      const since = subscriber.unsubscribedAt ? ` since ${subscriber.unsubscribedAt.slice(0, 10)}` : '';
      outcome.rejected.push({
        line: row.line,
        email: row.email,
        reason: `${row.email} is ${subscriber.status}${since}; an import never reactivates it (the owner can sign up again)`,
      });
      continue;
    }
    // Only the person (their link) or a consent the file names confirms a pending sign-up.
    const activated =
      subscriber.status === 'pending' &&
      row.consent !== '' &&
      (await activateSubscriber(trx, subscriber.id, ['pending'], 'confirm', context, detail));
    const nameDiffers = row.name !== undefined && row.name !== subscriber.name;
    const topicsDiffer = row.topicSlugs !== undefined && !sameTopics(row.topicSlugs, subscriber.topicSlugs);
    const chosenAt = ownChoice.get(subscriber.id);
    if ((nameDiffers || topicsDiffer) && chosenAt !== undefined && !overwrite) {
      outcome.kept.push({
        kept: 'choice',
        line: row.line,
        email: row.email,
        fields: changedFields(nameDiffers, topicsDiffer),
        chosenAt,
      });
    }
    if (subscriber.status === 'pending' && !activated) {
      outcome.kept.push({ kept: 'pending', line: row.line, email: row.email, signedUpAt: subscriber.createdAt });
    }
    const changed =
      (nameDiffers || topicsDiffer) &&
      (chosenAt === undefined || overwrite) &&
      (await updateSubscriberProfile(
        trx,
        subscriber,
        { name: row.name, topicIds },
        chosenAt === undefined ? 'import-update' : 'import-overwrite',
        context,
      ));
    if (activated || changed) outcome.updated++;
    else outcome.unchanged++;
  }
  await createSubscribers(trx, created);
  outcome.added = created.length;
  return outcome;
}

/** The error of an import that stopped after writing some batches: what was written, and what to do. */
function stoppedError(line: number, report: CsvImportReport, error: unknown): CsvImportError {
  const reason = error instanceof Error ? error.message : String(error);
  if (report.added + report.updated + report.unchanged === 0)
    return new CsvImportError(`The import stopped at line ${line}, and nothing was imported: ${reason}`);
  return new CsvImportError(
    `The import stopped at line ${line}: ${reason} The rows before line ${line} were imported (${report.added} added, ${report.updated} updated); run the same import again to finish: rows already imported are left unchanged.`,
  );
}

export async function importSubscribersCsv(
  db: Db,
  secretKey: string,
  input: Uint8Array | string,
  options: CsvImportOptions = {},
): Promise<CsvImportReport> {
  const records = await readRecords(fileText(input, options));
  const { good, rejected } = await checkRows(db, records);
  const report: CsvImportReport = { added: 0, updated: 0, unchanged: 0, rejected, kept: [] };
  const topicIdOf = await topicIdsBySlug(db);
  for (let next = 0; next < good.length;) {
    if (next > 0) await sleep(WRITE_BATCH_PAUSE_MS);
    const firstLine = (good[next] as GoodRow).line;
    let written = next;
    let outcome: BatchOutcome;
    try {
      outcome = await db.transaction().execute(async (trx) => {
        const started = performance.now();
        const batch: BatchOutcome = { added: 0, updated: 0, unchanged: 0, rejected: [], kept: [] };
        do {
          const group = good.slice(written, written + WRITE_GROUP_ROWS);
          addUp(batch, await writeBatch(trx, group, secretKey, topicIdOf, options.overwrite ?? false));
          written += group.length;
        } while (
          written < good.length &&
          written - next < WRITE_BATCH_MAX_ROWS &&
          performance.now() - started < WRITE_BATCH_MS
        );
        return batch;
      });
    } catch (error) {
      throw stoppedError(firstLine, report, error);
    }
    next = written;
    addUp(report, outcome);
  }
  rejected.sort((a, b) => a.line - b.line);
  return report;
}
