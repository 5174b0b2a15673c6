import type { Db } from '../src/db/database.js';
import type { ConsentSource } from '../src/db/schema.js';

// Who last set a subscriber's name and topics: the subscriber themselves (sign-up form,
// preferences page) or someone else (an editor, an import, the command line). Read from the
// consent log, which records every such change with its source, so no column has to be kept in
// step with it. An editor's CSV import leaves a subscriber's own choice as it is (csv-import.ts).

/** Consent-log actions that set a subscriber's name or topics. */
export const PROFILE_ACTIONS: readonly string[] = [
  'signup',
  'signup-changed',
  'preferences-changed',
  'subscribe',
  'profile-changed',
  'import-update',
  'import-overwrite',
  'editor-changed',
];

/** Sources through which the subscriber acts themselves. */
const OWN_SOURCES: readonly ConsentSource[] = ['form', 'preferences'];

const IDS_PER_QUERY = 500;

/**
 * For each of these subscribers whose name and topics were last set by themselves, the time they
 * set them (ISO). Subscribers whose latest such change was someone else's are absent.
 */
export async function ownChoicesAmong(db: Db, subscriberIds: readonly number[]): Promise<Map<number, string>> {
  const latest = new Map<number, { source: string; at: string }>();
  for (let i = 0; i < subscriberIds.length; i += IDS_PER_QUERY) {
    const rows = await db
      .selectFrom('consent_log')
      .select(['subscriber_id', 'source', 'created_at'])
      .where('subscriber_id', 'in', subscriberIds.slice(i, i + IDS_PER_QUERY))
      .where('action', 'in', PROFILE_ACTIONS)
      .orderBy('id')
      .execute();
    for (const row of rows) latest.set(row.subscriber_id, { source: row.source, at: row.created_at });
  }
  const own = new Map<number, string>();
  for (const [id, entry] of latest) {
    if (OWN_SOURCES.includes(entry.source as ConsentSource)) own.set(id, entry.at);
  }
  return own;
}
