import type { ConsentSource } from '../../src/db/schema.js';

// The consent log as editors read it: what happened, who or what did it, and the details in
// words (topic names, not a JSON object). The stored entry stays as it was written; this is only
// its reading.

const ACTIONS: Record<string, string> = {
  signup: 'Signed up',
  'signup-repeated': 'Signed up again',
  'signup-changed': 'Changed the sign-up before confirming',
  confirm: 'Confirmed the subscription',
  subscribe: 'Subscribed',
  resubscribe: 'Subscribed again',
  'preferences-changed': 'Changed their choices',
  'profile-changed': 'Details changed',
  'import-update': 'Details changed by an import',
  'import-overwrite': 'Changed by an editor’s import, over the subscriber’s own choice',
  'editor-changed': 'Details changed by an editor',
  'topics-merged': 'Topics merged',
  unsubscribe: 'Unsubscribed',
  bounce: 'Stopped: mail to the address bounced',
  complaint: 'Stopped: marked an issue as spam',
};

const SOURCES: Record<ConsentSource, string> = {
  form: 'sign-up form',
  import: 'CSV import',
  cli: 'command line',
  'one-click': 'one-click link in the mail',
  'unsubscribe-page': 'unsubscribe page',
  preferences: 'preferences page',
  admin: 'an editor in the app',
  system: 'the service',
  complaint: 'mail provider’s complaint report',
  api: 'the JSON API (an API key)',
  embed: 'the sign-up form on the publication’s website',
};

const FIELD_WORDS: Record<string, string> = {
  changed: 'Changed',
  topics: 'Topics',
  from: 'From',
  into: 'Into',
  via: 'Reported by',
  issue: 'Issue',
  kind: 'Kind',
  status: 'Status',
  diagnostic: 'Server said',
  event: 'Event',
  softBounceIssues: 'Bounced on issues',
  softLimit: 'Limit',
  by: 'By',
  overwrite: 'Overwrote the subscriber’s choice',
};

export interface ConsentEntryView {
  what: string;
  source: string;
  /** Each detail as a label and its value in words. */
  details: { label: string; value: string }[];
}

function words(value: unknown, topicName: (slug: string) => string, key: string): string {
  if (value === null || value === undefined || value === '') return '—';
  if (key === 'topics' && value === 'all') return 'every topic (none chosen)';
  if (Array.isArray(value)) {
    const items = value.map((v) => (key === 'topics' && typeof v === 'string' ? topicName(v) : String(v)));
    return items.length > 0 ? items.join(', ') : 'none';
  }
  if ((key === 'from' || key === 'into') && typeof value === 'string') return topicName(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

/** Reads one stored entry; a detail that is not a JSON object is shown as written. */
export function consentEntryView(
  entry: { action: string; source: string; detail: string | null },
  topicName: (slug: string) => string,
): ConsentEntryView {
  const what = ACTIONS[entry.action] ?? entry.action;
  const source = SOURCES[entry.source as ConsentSource] ?? entry.source;
  if (entry.detail === null || entry.detail.trim() === '') return { what, source, details: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(entry.detail);
  } catch {
    return { what, source, details: [{ label: 'Note', value: entry.detail }] };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { what, source, details: [{ label: 'Note', value: entry.detail }] };
  }
  const details = Object.entries(parsed as Record<string, unknown>)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => ({
      label: FIELD_WORDS[key] ?? key,
      value: key === 'changed' && Array.isArray(value) ? value.map(String).join(' and ') : words(value, topicName, key),
    }));
  return { what, source, details };
}
