import type { Insertable, Selectable, Updateable } from 'kysely';
import type {
  CONSENT_LOG_SOURCE_VALUES,
  Database,
  DELIVERIES_STATUS_VALUES,
  EDITORS_ROLE_VALUES,
  ISSUES_BOUNCE_CHECK_VALUES,
  ISSUES_EMAIL_FIT_VALUES,
  ISSUES_STATUS_VALUES,
  SUBSCRIBERS_STATUS_VALUES,
  UNSUBSCRIBE_REQUESTS_SOURCE_VALUES,
} from './schema.generated.js';

// The schema's types are generated from what the migrations build (`npm run db:types` writes
// schema.generated.ts; a test fails when it is stale, on SQLite and PostgreSQL). This module gives
// them the names the code uses. What the types cannot say:
// - times are ISO-8601 UTC text on both databases (timestamptz on PostgreSQL, read back as that text);
// - `*_json` columns are text holding JSON, parsed at the repository edge (articles.tags_json is a
//   string[], sources_json {url,label}[]);
// - publication has one row, id 1; subscribers.uid is the random public id carried in tokens
//   instead of the row id; subscribers.email is normalised (trimmed, lower case);
//   sessions.id_hash is the SHA-256 of the session cookie, which is never stored;
//   erased_addresses holds keyed hashes of erased addresses, so an import cannot re-add them.

export type { Database } from './schema.generated.js';
export {
  CONSENT_LOG_SOURCE_VALUES,
  DELIVERIES_STATUS_VALUES,
  EDITORS_ROLE_VALUES,
  ISSUES_BOUNCE_CHECK_VALUES,
  ISSUES_EMAIL_FIT_VALUES,
  ISSUES_STATUS_VALUES,
  SUBSCRIBERS_STATUS_VALUES,
  UNSUBSCRIBE_REQUESTS_SOURCE_VALUES,
} from './schema.generated.js';

export type IssueStatus = (typeof ISSUES_STATUS_VALUES)[number];
/** The bounce safety net's verdict on a send (migration 020): null while judging. */
export type BounceCheck = (typeof ISSUES_BOUNCE_CHECK_VALUES)[number];
/** How an issue's editions meet the email size budget (README: Size budget; migration 040). */
export type EmailFit = (typeof ISSUES_EMAIL_FIT_VALUES)[number];
export type SubscriberStatus = (typeof SUBSCRIBERS_STATUS_VALUES)[number];
export type ConsentSource = (typeof CONSENT_LOG_SOURCE_VALUES)[number];
/** Where a recorded unsubscribe came from (migration 016; subscribers/unsubscribe-retry.ts). */
export type UnsubscribeSource = (typeof UNSUBSCRIBE_REQUESTS_SOURCE_VALUES)[number];
export type DeliveryStatus = (typeof DELIVERIES_STATUS_VALUES)[number];
export type EditorRole = (typeof EDITORS_ROLE_VALUES)[number];

export type IssueRow = Selectable<Database['issues']>;
export type ArticleRow = Selectable<Database['articles']>;
export type TopicRow = Selectable<Database['topics']>;
export type SubscriberRow = Selectable<Database['subscribers']>;
export type DeliveryRow = Selectable<Database['deliveries']>;
export type NewDelivery = Insertable<Database['deliveries']>;
export type SubscriberUpdate = Updateable<Database['subscribers']>;
