import type { Insertable } from 'kysely';
import type { Db } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/database.js';
import { TRACKING_SETTINGS_LEVEL_VALUES } from '../db/schema.generated.js';
import type { TrackedKind } from './click-token.js';
import type { EditionLink } from './link-rewriter.js';

// All SQL of click tracking: the publication's settings, the tracked links with their counts, and
// the personal click events of readers who opted in (README: Engagement analytics).

export type TrackingLevel = (typeof TRACKING_SETTINGS_LEVEL_VALUES)[number];
export const TRACKING_LEVELS: readonly TrackingLevel[] = TRACKING_SETTINGS_LEVEL_VALUES;

export interface TrackingSettings {
  level: TrackingLevel;
  /** Opens are counted (a 1×1 image in each email); off unless an admin turned it on. */
  trackOpens: boolean;
}

export const DEFAULT_TRACKING: TrackingSettings = { level: 'aggregate', trackOpens: false };

export async function getTrackingSettings(db: Db): Promise<TrackingSettings> {
  const row = await db
    .selectFrom('tracking_settings')
    .select(['level', 'track_opens'])
    .where('id', '=', 1)
    .executeTakeFirst();
  return row ? { level: row.level, trackOpens: row.track_opens } : DEFAULT_TRACKING;
}

export async function setTrackingSettings(db: Db, settings: TrackingSettings): Promise<void> {
  await db
    .updateTable('tracking_settings')
    .set({ level: settings.level, track_opens: settings.trackOpens, updated_at: nowIso() })
    .where('id', '=', 1)
    .execute();
}

export interface TrackedEditionIds {
  /** tracked_links ids by link position. */
  links: number[];
  open: number | null;
}

/**
 * Records an edition's links (and its open pixel) once per issue and edition; a later call (another
 * sender, a resumed send, a test copy) finds the same rows. A position whose address changed (an
 * edit between a test copy and the send) takes the new address.
 */
export async function registerEditionLinks(
  db: Db,
  issueId: number,
  editionKey: string,
  links: readonly EditionLink[],
  withOpen: boolean,
): Promise<TrackedEditionIds> {
  const now = nowIso();
  const rows: Insertable<Database['tracked_links']>[] = links.map((l) => ({
    issue_id: issueId,
    edition_key: editionKey,
    kind: 'link',
    position: l.position,
    url: l.url,
    article_id: l.articleId,
    created_at: now,
  }));
  if (withOpen)
    rows.push({
      issue_id: issueId,
      edition_key: editionKey,
      kind: 'open',
      position: 0,
      url: '',
      article_id: null,
      created_at: now,
    });
  for (let i = 0; i < rows.length; i += 400) {
    await db
      .insertInto('tracked_links')
      .values(rows.slice(i, i + 400))
      .onConflict((oc) =>
        oc
          .columns(['issue_id', 'edition_key', 'kind', 'position'])
          .doUpdateSet((eb) => ({ url: eb.ref('excluded.url'), article_id: eb.ref('excluded.article_id') })),
      )
      .execute();
  }
  const stored = await db
    .selectFrom('tracked_links')
    .select(['id', 'kind', 'position'])
    .where('issue_id', '=', issueId)
    .where('edition_key', '=', editionKey)
    .execute();
  const ids: TrackedEditionIds = { links: [], open: null };
  for (const row of stored) {
    if (row.kind === 'open') ids.open = row.id;
    else ids.links[row.position] = row.id;
  }
  return ids;
}

export interface TrackedLinkTarget {
  id: number;
  issueId: number;
  kind: TrackedKind;
  url: string;
  /**
   * Whether the issue's send has started. Until then a link's address follows edits (a test copy's
   * link, then an edit, then the send, updates the row: see registerEditionLinks); after, it is what
   * was sent.
   */
  sent: boolean;
}

export async function findTrackedLink(db: Db, id: number): Promise<TrackedLinkTarget | undefined> {
  const row = await db
    .selectFrom('tracked_links')
    .innerJoin('issues', 'issues.id', 'tracked_links.issue_id')
    .select([
      'tracked_links.id',
      'tracked_links.issue_id',
      'tracked_links.kind',
      'tracked_links.url',
      'issues.started_at',
    ])
    .where('tracked_links.id', '=', id)
    .executeTakeFirst();
  return row && { id: row.id, issueId: row.issue_id, kind: row.kind, url: row.url, sent: row.started_at !== null };
}

export interface CountBatch {
  /** Per tracked link: clicks (or opens) by readers and by machines. */
  counts: Map<number, { human: number; machine: number }>;
  /** Readers' clicks with their subscriber: stored only at `individual` for those who opted in. */
  personal: { subscriberId: number; linkId: number; at: string }[];
}

/**
 * Adds a batch of counts in one transaction: one update per link, then the personal events the
 * settings allow (checked here, at write time: a reader who withdrew their opt-in after the click,
 * or a level lowered since, stores nothing about them).
 */
export async function addCounts(db: Db, batch: CountBatch): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const [linkId, n] of batch.counts) {
      await trx
        .updateTable('tracked_links')
        .set((eb) => ({
          clicks: eb('clicks', '+', n.human),
          machine_clicks: eb('machine_clicks', '+', n.machine),
        }))
        .where('id', '=', linkId)
        .execute();
    }
    if (batch.personal.length === 0) return;
    const settings = await getTrackingSettings(trx);
    if (settings.level !== 'individual') return;
    const ids = [...new Set(batch.personal.map((p) => p.subscriberId))];
    const allowed = new Set(
      (
        await trx
          .selectFrom('subscribers')
          .select('id')
          .where('id', 'in', ids)
          .where('tracking_opt_in', '=', true)
          .execute()
      ).map((r) => r.id),
    );
    const rows = batch.personal
      .filter((p) => allowed.has(p.subscriberId))
      .map((p) => ({ subscriber_id: p.subscriberId, link_id: p.linkId, at: p.at }));
    for (let i = 0; i < rows.length; i += 300)
      await trx
        .insertInto('click_events')
        .values(rows.slice(i, i + 300))
        .execute();
  });
}

export interface PersonalClick {
  at: string;
  kind: TrackedKind;
  issue: string;
  url: string;
}

/** A reader's own click events (their data export). */
export async function listClickEventsOf(db: Db, subscriberId: number): Promise<PersonalClick[]> {
  const rows = await db
    .selectFrom('click_events')
    .innerJoin('tracked_links', 'tracked_links.id', 'click_events.link_id')
    .innerJoin('issues', 'issues.id', 'tracked_links.issue_id')
    .select(['click_events.at', 'tracked_links.kind', 'issues.slug', 'tracked_links.url'])
    .where('click_events.subscriber_id', '=', subscriberId)
    .orderBy('click_events.id')
    .execute();
  return rows.map((r) => ({ at: r.at, kind: r.kind, issue: r.slug, url: r.url }));
}

/** Erasure: every click event of the person goes; the counts on tracked_links stay. */
export async function deleteClickEventsOf(db: Db, subscriberId: number): Promise<void> {
  await db.deleteFrom('click_events').where('subscriber_id', '=', subscriberId).execute();
}

export interface LinkCountRow {
  editionKey: string;
  kind: TrackedKind;
  articleId: number | null;
  clicks: number;
  machineClicks: number;
}

/** An issue's counts summed per edition, kind and article (the click report's input). */
export async function issueLinkCounts(db: Db, issueId: number): Promise<LinkCountRow[]> {
  const rows = await db
    .selectFrom('tracked_links')
    .select((eb) => [
      'edition_key',
      'kind',
      'article_id',
      eb.fn.sum<number | string>('clicks').as('clicks'),
      eb.fn.sum<number | string>('machine_clicks').as('machine'),
    ])
    .where('issue_id', '=', issueId)
    .groupBy(['edition_key', 'kind', 'article_id'])
    .execute();
  return rows.map((r) => ({
    editionKey: r.edition_key,
    kind: r.kind,
    articleId: r.article_id,
    clicks: Number(r.clicks),
    machineClicks: Number(r.machine),
  }));
}

/** Messages sent per edition of an issue (what click rates are measured against). */
export async function sentPerEdition(db: Db, issueId: number): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('deliveries')
    .select((eb) => ['edition_key', eb.fn.countAll<number | string>().as('n')])
    .where('issue_id', '=', issueId)
    .where('status', '=', 'sent')
    .groupBy('edition_key')
    .execute();
  return new Map(rows.map((r) => [r.edition_key, Number(r.n)]));
}

/** Issues with tracked links, newest first, with their totals (the reports' list). */
export async function trackedIssues(
  db: Db,
): Promise<{ slug: string; title: string; sentAt: string | null; clicks: number; machineClicks: number }[]> {
  const rows = await db
    .selectFrom('tracked_links')
    .innerJoin('issues', 'issues.id', 'tracked_links.issue_id')
    .select((eb) => [
      'issues.slug',
      'issues.title',
      'issues.sent_at',
      eb.fn.sum<number | string>('tracked_links.clicks').as('clicks'),
      eb.fn.sum<number | string>('tracked_links.machine_clicks').as('machine'),
    ])
    .where('tracked_links.kind', '=', 'link')
    .groupBy(['issues.id', 'issues.slug', 'issues.title', 'issues.sent_at'])
    .orderBy('issues.id', 'desc')
    .execute();
  return rows.map((r) => ({
    slug: r.slug,
    title: r.title,
    sentAt: r.sent_at,
    clicks: Number(r.clicks),
    machineClicks: Number(r.machine),
  }));
}
