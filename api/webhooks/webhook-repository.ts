import { sql, type Selectable } from 'kysely';
import type { Db } from '../../src/db/database.js';
import {
  latestEventId,
  OUTBOX_EVENT_TYPES,
  type OutboxEvent,
  type OutboxEventType,
} from '../../src/db/event-outbox.js';
import type { WEBHOOK_DELIVERIES_STATUS_VALUES, WebhookEndpointsTable } from '../../src/db/schema.generated.js';

// All SQL about webhook endpoints and their deliveries (migration 062). Portable kysely only.
// webhook_endpoints: events space-separated; secret = the signing secret sealed under SECRET_KEY
// (webhook-secret.ts: signing needs the text, so it is not hashed); after_event_id = only events after this outbox id reach the endpoint.
// webhook_deliveries: next_attempt_at = when a pending delivery is due, or until when a sender holds
// it; last_response = the start of the last answer's body, shown in the app.

export type DeliveryState = (typeof WEBHOOK_DELIVERIES_STATUS_VALUES)[number];

export interface WebhookEndpoint {
  id: number;
  url: string;
  description: string;
  events: OutboxEventType[];
  /** The signing secret as stored: sealed (webhook-secret.ts opens it). */
  storedSecret: string;
  afterEventId: number;
  createdBy: string;
  createdAt: string;
}

function toEndpoint(row: Selectable<WebhookEndpointsTable>): WebhookEndpoint {
  const names = row.events.split(' ');
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: OUTBOX_EVENT_TYPES.filter((t) => names.includes(t)),
    storedSecret: row.secret,
    afterEventId: row.after_event_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

export interface NewEndpoint {
  url: string;
  description: string;
  events: readonly OutboxEventType[];
  storedSecret: string;
  createdBy: string;
  now: string;
}

/** Registers an endpoint; it hears of events recorded from now on. */
export async function insertEndpoint(db: Db, endpoint: NewEndpoint): Promise<WebhookEndpoint> {
  const afterEventId = await latestEventId(db);
  const row = await db
    .insertInto('webhook_endpoints')
    .values({
      url: endpoint.url,
      description: endpoint.description,
      events: endpoint.events.join(' '),
      secret: endpoint.storedSecret,
      after_event_id: afterEventId,
      created_by: endpoint.createdBy,
      created_at: endpoint.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toEndpoint(row);
}

export async function listEndpoints(db: Db): Promise<WebhookEndpoint[]> {
  const rows = await db.selectFrom('webhook_endpoints').selectAll().orderBy('id').execute();
  return rows.map(toEndpoint);
}

export async function findEndpoint(db: Db, id: number): Promise<WebhookEndpoint | undefined> {
  const row = await db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toEndpoint(row);
}

/** Seals the secrets still stored as plain text (endpoints registered before sealing); how many. */
export async function sealPlainSecrets(db: Db, seal: (plain: string) => string): Promise<number> {
  const plain = await db
    .selectFrom('webhook_endpoints')
    .select(['id', 'secret'])
    .where(sql`substr(secret, 1, 6)`, '=', 'whsec_')
    .execute();
  let sealed = 0;
  for (const row of plain) {
    // Conditional: another process sealing it at the same moment leaves its own sealed text.
    const result = await db
      .updateTable('webhook_endpoints')
      .set({ secret: seal(row.secret) })
      .where('id', '=', row.id)
      .where('secret', '=', row.secret)
      .executeTakeFirst();
    sealed += Number(result.numUpdatedRows);
  }
  return sealed;
}

/** Removes an endpoint and its deliveries; false when there was none. */
export async function deleteEndpoint(db: Db, id: number): Promise<boolean> {
  const result = await db.deleteFrom('webhook_endpoints').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** The last outbox event handed to the endpoints. */
export async function relayPosition(db: Db): Promise<number> {
  const row = await db
    .selectFrom('webhook_relay')
    .select('last_event_id')
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return row.last_event_id;
}

/**
 * Queues one delivery per endpoint that wants each event, and moves the relay position past
 * them, in one transaction; false (nothing written) when another process moved it first.
 */
export async function queueDeliveries(
  db: Db,
  from: number,
  events: readonly OutboxEvent[],
  endpoints: readonly WebhookEndpoint[],
  now: string,
): Promise<boolean> {
  const last = events.at(-1);
  if (!last) return true;
  return db.transaction().execute(async (trx) => {
    const wdb = trx;
    const moved = await wdb
      .updateTable('webhook_relay')
      .set({ last_event_id: last.id })
      .where('id', '=', 1)
      .where('last_event_id', '=', from)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) return false;
    const rows = events.flatMap((event) =>
      endpoints
        .filter((e) => e.events.includes(event.type) && event.id > e.afterEventId)
        .map((e) => ({
          endpoint_id: e.id,
          event_id: event.id,
          status: 'pending' as const,
          attempts: 0,
          next_attempt_at: now,
          last_attempt_at: null,
          last_status: null,
          last_response: null,
          last_error: null,
          delivered_at: null,
          created_at: now,
        })),
    );
    for (let i = 0; i < rows.length; i += 200) {
      await wdb
        .insertInto('webhook_deliveries')
        .values(rows.slice(i, i + 200))
        .execute();
    }
    return true;
  });
}

export interface DueDelivery {
  id: number;
  endpointId: number;
  eventId: number;
  attempts: number;
  nextAttemptAt: string;
}

/** Pending deliveries whose attempt is due, soonest first. */
export async function dueDeliveries(db: Db, now: string, limit: number): Promise<DueDelivery[]> {
  const rows = await db
    .selectFrom('webhook_deliveries')
    .select(['id', 'endpoint_id', 'event_id', 'attempts', 'next_attempt_at'])
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    endpointId: r.endpoint_id,
    eventId: r.event_id,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at ?? now,
  }));
}

/**
 * Takes a due delivery for one attempt: counts the attempt and holds it until `leaseUntil` (a
 * sender that dies mid-request leaves it to be tried again then). False when another took it.
 */
export async function claimDelivery(db: Db, due: DueDelivery, now: string, leaseUntil: string): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ attempts: due.attempts + 1, next_attempt_at: leaseUntil, last_attempt_at: now })
    .where('id', '=', due.id)
    .where('status', '=', 'pending')
    .where('attempts', '=', due.attempts)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface AttemptOutcome {
  status: number | null;
  response: string | null;
  error: string | null;
}

/** Records a finished attempt: delivered, due again at `retryAt`, or given up (`retryAt` null). */
export async function recordAttempt(
  db: Db,
  id: number,
  outcome: AttemptOutcome & { delivered: boolean; retryAt: string | null; now: string },
): Promise<void> {
  const state: DeliveryState = outcome.delivered ? 'delivered' : outcome.retryAt ? 'pending' : 'failed';
  await db
    .updateTable('webhook_deliveries')
    .set({
      status: state,
      next_attempt_at: state === 'pending' ? outcome.retryAt : null,
      last_status: outcome.status,
      last_response: outcome.response,
      last_error: outcome.error,
      delivered_at: outcome.delivered ? outcome.now : null,
    })
    .where('id', '=', id)
    .execute();
}

export interface DeliveryRecord {
  id: number;
  eventId: number;
  eventType: string;
  status: DeliveryState;
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastStatus: number | null;
  lastResponse: string | null;
  lastError: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

/** An endpoint's latest deliveries, newest first (what the app shows). */
export async function recentDeliveries(db: Db, endpointId: number, limit: number): Promise<DeliveryRecord[]> {
  const rows = await db
    .selectFrom('webhook_deliveries')
    .innerJoin('outbox_events', 'outbox_events.id', 'webhook_deliveries.event_id')
    .selectAll('webhook_deliveries')
    .select('outbox_events.type as event_type')
    .where('webhook_deliveries.endpoint_id', '=', endpointId)
    .orderBy('webhook_deliveries.id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastAttemptAt: r.last_attempt_at,
    lastStatus: r.last_status,
    lastResponse: r.last_response,
    lastError: r.last_error,
    deliveredAt: r.delivered_at,
    createdAt: r.created_at,
  }));
}

/** Counts per delivery state for an endpoint. */
export async function deliveryCounts(db: Db, endpointId: number): Promise<Record<DeliveryState, number>> {
  const rows = await db
    .selectFrom('webhook_deliveries')
    .select(['status', (eb) => eb.fn.countAll<number | bigint>().as('n')])
    .where('endpoint_id', '=', endpointId)
    .groupBy('status')
    .execute();
  const counts: Record<DeliveryState, number> = { pending: 0, delivered: 0, failed: 0 };
  for (const r of rows) counts[r.status] = Number(r.n);
  return counts;
}
