import { stringify } from 'csv-stringify/sync';
import type { Db } from '../src/db/database.js';
import { listAllSubscribers } from './subscriber-repository.js';

// `newsletter subscribers export [--out FILE]`: CSV `email,name,topics,status,subscribed_at`
// (topics joined by `;`, empty = every topic), quoted by csv-stringify where needed.

export const EXPORT_COLUMNS = ['email', 'name', 'topics', 'status', 'subscribed_at'] as const;

/**
 * Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return
 * that hides one) as a formula. Such cells get a leading apostrophe, which spreadsheets show as
 * text (OWASP "CSV injection").
 */
export function neutraliseFormula(value: string): string {
  return /^[=+\-@\t\r]/.test(value) || /^\s+[=+\-@]/.test(value) ? `'${value}` : value;
}

export async function exportSubscribersCsv(db: Db): Promise<string> {
  const subscribers = await listAllSubscribers(db);
  const rows = subscribers.map((s) =>
    [s.email, s.name, s.topicSlugs.join(';'), s.status, s.confirmedAt ?? s.createdAt].map(neutraliseFormula),
  );
  return stringify(rows, { header: true, columns: [...EXPORT_COLUMNS], quoted_match: /[\r\n]/ });
}
