import { CsvError, parse } from 'csv-parse/sync';
import type { Db } from '../src/db/database.js';
import { erasedAddressHash, parseEmail } from './address.js';
import { cleanName, MAX_NAME_LENGTH } from './form-input.js';
import {
  activateSubscriber,
  createSubscriber,
  findSubscriberByEmail,
  isAddressErased,
  resolveTopicSlugs,
  topicIdsBySlug,
  updateSubscriberProfile,
  WITHDRAWN_STATUSES,
} from './subscriber-repository.js';

// `newsletter subscribers import <file.csv>` (contract.md §3).
// Header `email,name,topics` (topics: slugs separated by `;`; empty = every topic). The columns
// `status` and `subscribed_at` of our own export are accepted and ignored, so an export can be
// re-imported. Every row is checked first; good rows are then written in one transaction.
// A re-import updates name and topics from the file; a column left out of the header is left
// unchanged. Unsubscribed, bounced, complained and erased addresses are never (re)activated.

export class CsvImportError extends Error {}

export interface RejectedRow {
  line: number;
  email: string;
  reason: string;
}

export interface CsvImportReport {
  added: number;
  updated: number;
  unchanged: number;
  rejected: RejectedRow[];
}

const KNOWN_COLUMNS = ['email', 'name', 'topics', 'status', 'subscribed_at'] as const;
type Column = (typeof KNOWN_COLUMNS)[number];

interface GoodRow {
  line: number;
  email: string;
  name: string | undefined;
  topicSlugs: string[] | undefined;
  topicIds: number[] | undefined;
}

interface ParsedRecord {
  record: string[];
  info: { lines: number };
}

function readRecords(text: string): ParsedRecord[] {
  try {
    return parse(text, {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n', '\r'],
    }) as ParsedRecord[];
  } catch (error) {
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines;
      throw new CsvImportError(
        `${line !== undefined ? `line ${line}: ` : ''}${error.message}. Nothing was imported; fix the file and run the import again.`,
      );
    }
    throw error;
  }
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

export async function importSubscribersCsv(db: Db, secretKey: string, text: string): Promise<CsvImportReport> {
  const records = readRecords(text);
  const header = readHeader(records[0]?.record);
  const cell = (record: string[], column: Column): string | undefined => {
    const index = header.get(column);
    return index === undefined ? undefined : (record[index] ?? '');
  };

  const rejected: RejectedRow[] = [];
  const good: GoodRow[] = [];
  const firstLineOf = new Map<string, number>();
  const { known } = await resolveTopicSlugs(db, []);
  const knownTopics = new Set(known);

  for (const parsed of records.slice(1)) {
    const { record } = parsed;
    if (record.every((c) => c.trim() === '')) continue;
    const line = startLine(parsed);
    const rawEmail = (cell(record, 'email') ?? '').trim();
    const reject = (reason: string) => rejected.push({ line, email: rawEmail, reason });

    if (record.length > header.size) {
      reject(`has ${record.length} cells but the header has ${header.size} (quote cells that contain commas)`);
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
    let topicSlugs: string[] | undefined;
    if (rawTopics !== undefined) {
      topicSlugs = [
        ...new Set(
          rawTopics
            .split(';')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
        ),
      ];
      const unknown = topicSlugs.filter((s) => !knownTopics.has(s));
      if (unknown.length > 0) {
        const list = known.length > 0 ? known.join(', ') : 'none yet (import an issue first)';
        reject(
          `${email}: unknown topic${unknown.length > 1 ? 's' : ''} ${unknown.map((s) => `"${s}"`).join(', ')} (topics: ${list})`,
        );
        continue;
      }
    }
    good.push({ line, email, name, topicSlugs, topicIds: undefined });
  }

  const report: CsvImportReport = { added: 0, updated: 0, unchanged: 0, rejected };
  await db.transaction().execute(async (trx) => {
    const idOf = await topicIdsBySlug(trx);
    for (const row of good) {
      const topicIds = row.topicSlugs?.map((s) => idOf.get(s) as number);
      const context = { source: 'import' as const };
      const detail = `CSV line ${row.line}`;
      const existing = await findSubscriberByEmail(trx, row.email);
      if (!existing) {
        if (await isAddressErased(trx, erasedAddressHash(secretKey, row.email))) {
          rejected.push({
            line: row.line,
            email: row.email,
            reason: `${row.email} was erased at the owner's request; an import cannot add it back (the owner can sign up again)`,
          });
          continue;
        }
        await createSubscriber(trx, {
          email: row.email,
          name: row.name ?? '',
          status: 'active',
          topicIds: topicIds ?? [],
          action: 'subscribe',
          context,
          detail,
        });
        report.added++;
        continue;
      }
      if (WITHDRAWN_STATUSES.includes(existing.status)) {
        const since = existing.unsubscribedAt ? ` since ${existing.unsubscribedAt.slice(0, 10)}` : '';
        rejected.push({
          line: row.line,
          email: row.email,
          reason: `${row.email} is ${existing.status}${since}; an import never reactivates it (the owner can sign up again)`,
        });
        continue;
      }
      const activated =
        existing.status === 'pending' &&
        (await activateSubscriber(trx, existing.id, ['pending'], 'subscribe', context, detail));
      const changed = await updateSubscriberProfile(
        trx,
        existing,
        { name: row.name, topicIds },
        'import-update',
        context,
      );
      if (activated || changed) report.updated++;
      else report.unchanged++;
    }
  });
  rejected.sort((a, b) => a.line - b.line);
  return report;
}
