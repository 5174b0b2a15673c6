import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

// Times are ISO-8601 UTC strings (text) so the same schema works on SQLite and PostgreSQL.
// JSON columns are text holding JSON, parsed at the repository edge.

export interface PublicationTable {
  id: number; // always 1
  name: string;
  publisher: string;
  cadence: string;
  contact: string;
  about_markdown: string;
}

export interface GlossaryTable {
  id: Generated<number>;
  abbreviation: string;
  english: string;
  chinese: string;
  position: number;
}

export interface TopicTable {
  id: Generated<number>;
  slug: string;
  name: string;
  description: string;
  position: number;
}

export interface ArticleTable {
  id: Generated<number>;
  slug: string;
  title: string;
  section_topic_id: number;
  body_markdown: string;
  tags_json: string; // string[]
  takeaway: string | null;
  sources_json: string; // {url,label}[]
  images_json: string; // {src,alt}[]
  created_at: string;
  updated_at: string;
}

export interface ArticleTopicTable {
  article_id: number;
  topic_id: number;
}

/** How an issue's editions meet the email size budget (README: Size budget). */
export type EmailFit = 'auto' | 'full' | 'teasers';

export type IssueStatus = 'draft' | 'scheduled' | 'sending' | 'paused' | 'sent' | 'cancelled';

export interface IssueTable {
  id: Generated<number>;
  slug: string;
  title: string;
  edition: string;
  period: string;
  editor_note_markdown: string;
  status: IssueStatus;
  send_at: string | null;
  started_at: string | null;
  sent_at: string | null;
  pause_reason: string | null;
  /** The bounce safety net's verdict on this send (migration 020): null while judging. */
  bounce_check: BounceCheck | null;
  email_fit: Generated<EmailFit>;
  preheader: Generated<string>;
  created_at: string;
  updated_at: string;
  /** Added by 030-issue-records: set when a sent issue is taken out of the archive and feed. */
  withdrawn_at: string | null;
  /** Shown on the 410 page of a withdrawn issue. */
  withdrawal_note: string | null;
}

/**
 * Added by 030-issue-records: what an issue's send sent. Written once when the send starts (the
 * JSON of `IssueContent`: details, sections, articles, publication, glossary) and replaced only
 * by a published correction; the web version and every edition of a sent issue are rendered from it.
 */
export interface IssueSnapshotTable {
  issue_id: number;
  content_json: string;
  taken_at: string;
}

/** Added by 030-issue-records: each correction of a sent issue, with the content it replaced. */
export interface IssueCorrectionTable {
  id: Generated<number>;
  issue_id: number;
  note: string;
  corrected_at: string;
  /** `cli`, or the editor's email address. */
  corrected_by: string;
  replaced_json: string;
}

export type BounceCheck = 'passed' | 'tripped';

export interface IssueSectionTable {
  issue_id: number;
  topic_id: number;
  position: number;
}

export interface IssueArticleTable {
  issue_id: number;
  article_id: number;
  position: number;
}

export type SubscriberStatus = 'pending' | 'active' | 'unsubscribed' | 'bounced' | 'complained';

export interface SubscriberTable {
  id: Generated<number>;
  /** Random public id carried in tokens instead of the row id. */
  uid: string;
  email: string; // normalised: trimmed, lower case
  name: string;
  status: SubscriberStatus;
  created_at: string;
  confirmed_at: string | null;
  unsubscribed_at: string | null;
  updated_at: string;
}

export interface SubscriberTopicTable {
  subscriber_id: number;
  topic_id: number;
}

export type ConsentSource =
  | 'form'
  | 'import'
  | 'cli'
  | 'one-click'
  | 'preferences'
  | 'admin'
  | 'system'
  /** A feedback-loop report or a provider's complaint event ("this is spam"). */
  | 'complaint';

export interface ConsentLogTable {
  id: Generated<number>;
  subscriber_id: number;
  action: string; // signup, confirm, topics-changed, unsubscribe, bounce, import, ...
  source: ConsentSource;
  detail: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
}

/** Keyed hashes of erased addresses, so an import cannot silently re-add them. */
export interface ErasedAddressTable {
  email_hash: string;
  erased_at: string;
}

export type DeliveryStatus = 'pending' | 'sending' | 'sent' | 'skipped' | 'failed';

export interface DeliveryTable {
  id: Generated<number>;
  issue_id: number;
  subscriber_id: number;
  edition_key: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  claimed_at: string | null;
  sent_at: string | null;
  last_error: string | null;
  /** 1 while a bounce waits for the safety net's verdict (migration 020). */
  bounce_held: Generated<number>;
  created_at: string;
}

export type EditorRole = 'admin' | 'editor';

export interface EditorTable {
  id: Generated<number>;
  email: string;
  password_hash: string;
  role: EditorRole;
  created_at: string;
}

export interface SessionTable {
  /** SHA-256 of the session cookie value; the cookie itself is never stored. */
  id_hash: string;
  editor_id: number;
  csrf_secret: string;
  created_at: string;
  expires_at: string;
}

export interface MediaTable {
  id: Generated<number>;
  filename: string;
  original_name: string;
  mime: string;
  size: number;
  alt: string;
  created_at: string;
}

export interface Database {
  publication: PublicationTable;
  glossary: GlossaryTable;
  topics: TopicTable;
  articles: ArticleTable;
  article_topics: ArticleTopicTable;
  issues: IssueTable;
  issue_sections: IssueSectionTable;
  issue_articles: IssueArticleTable;
  issue_snapshots: IssueSnapshotTable;
  issue_corrections: IssueCorrectionTable;
  subscribers: SubscriberTable;
  subscriber_topics: SubscriberTopicTable;
  consent_log: ConsentLogTable;
  erased_addresses: ErasedAddressTable;
  deliveries: DeliveryTable;
  editors: EditorTable;
  sessions: SessionTable;
  media: MediaTable;
  health_probe: HealthProbeTable;
}

/** One row, written by /healthz to prove the database can be written. */
export interface HealthProbeTable {
  id: number;
  checked_at: string;
}

export type IssueRow = Selectable<IssueTable>;
export type ArticleRow = Selectable<ArticleTable>;
export type TopicRow = Selectable<TopicTable>;
export type SubscriberRow = Selectable<SubscriberTable>;
export type DeliveryRow = Selectable<DeliveryTable>;
export type NewDelivery = Insertable<DeliveryTable>;
export type SubscriberUpdate = Updateable<SubscriberTable>;
