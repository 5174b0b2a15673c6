import { stringify } from 'csv-stringify/sync';
import type { Db } from '../src/db/database.js';
import { neutraliseFormula } from './csv-formula.js';
import { listAllSubscribers } from './subscriber-repository.js';

// `newsletter subscribers export [--out FILE]`: CSV `email,name,topics,status,subscribed_at`
// (topics joined by `;`, empty = every topic), quoted by csv-stringify where needed; cells a
// spreadsheet would run as formulas are neutralised (csv-formula.ts).

export const EXPORT_COLUMNS = ['email', 'name', 'topics', 'status', 'subscribed_at'] as const;

export async function exportSubscribersCsv(db: Db): Promise<string> {
  const subscribers = await listAllSubscribers(db);
  const rows = subscribers.map((s) =>
    [s.email, s.name, s.topicSlugs.join(';'), s.status, s.confirmedAt ?? s.createdAt].map(neutraliseFormula),
  );
  return stringify(rows, { header: true, columns: [...EXPORT_COLUMNS], quoted_match: /[\r\n]/ });
}
