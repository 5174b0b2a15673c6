import os from 'node:os';
import { sql } from 'kysely';
import type { Db } from '../src/db/database.js';
import { dbNowMs } from './db-clock.js';

// All SQL of the senders' shared state: each sender's lease, the claims it holds, the shared rate
// bucket and the scheduler's leader lock. Portable kysely; times from the database's clock.

export interface SenderRow {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  leaseUntil: Date;
  lastSeen: Date;
  sent: number;
  rate: number;
  stoppedAt: string | null;
  /** Deliveries this sender holds in flight (for one issue when asked for one). */
  claims: number;
  /** The lease is current (database time). */
  alive: boolean;
}

/** Registers a sender with a lease of `leaseMs` from now (database time). */
export async function registerSender(db: Db, id: string, leaseMs: number, startedAt: string): Promise<void> {
  await db
    .insertInto('senders')
    .values({
      id,
      host: os.hostname(),
      pid: process.pid,
      started_at: startedAt,
      lease_until_ms: sql<number>`${dbNowMs(db)} + ${leaseMs}`,
      last_seen_ms: dbNowMs(db),
      stopped_at: null,
    })
    .execute();
}

/**
 * Renews a sender's lease, only while it has not run out: a sender whose lease expired may
 * already have been taken over, so it must stop instead (and come back under a new id).
 */
export async function renewSender(
  db: Db,
  id: string,
  leaseMs: number,
  stats: { sent: number; rate: number },
): Promise<boolean> {
  const result = await db
    .updateTable('senders')
    .set({
      lease_until_ms: sql<number>`${dbNowMs(db)} + ${leaseMs}`,
      last_seen_ms: dbNowMs(db),
      sent: stats.sent,
      rate: stats.rate,
    })
    .where('id', '=', id)
    .where('stopped_at', 'is', null)
    .where('lease_until_ms', '>=', dbNowMs(db))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** A sender leaving on purpose: its lease ends now and what it still held goes back to pending. */
export async function retireSender(db: Db, id: string, stoppedAt: string, sent: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('deliveries')
      .set({ status: 'pending', claimed_by: null, claimed_at: null })
      .where('status', '=', 'sending')
      .where('claimed_by', '=', id)
      .execute();
    await trx
      .updateTable('senders')
      .set({ stopped_at: stoppedAt, lease_until_ms: 0, last_seen_ms: dbNowMs(db), sent, rate: 0 })
      .where('id', '=', id)
      .execute();
  });
}

/** Ends the lease of a sender known to be dead (its process is gone from this host). */
export async function expireSender(db: Db, id: string): Promise<void> {
  await db.updateTable('senders').set({ lease_until_ms: 0 }).where('id', '=', id).execute();
}

/**
 * Takes over the deliveries of an issue held by senders whose lease ran out more than `marginMs`
 * ago (or by no sender at all): they go back to pending, to be claimed again and sent with the
 * same Message-ID. The margin keeps a sender that is merely slow to renew from losing its claims.
 */
export async function takeOverExpiredClaims(db: Db, issueId: number, marginMs: number): Promise<number> {
  const result = await db
    .updateTable('deliveries')
    .set({ status: 'pending', claimed_by: null, claimed_at: null })
    .where('issue_id', '=', issueId)
    .where('status', '=', 'sending')
    .where((eb) =>
      eb.or([
        eb('claimed_by', 'is', null),
        eb.not(
          eb.exists(
            eb
              .selectFrom('senders as s')
              .select('s.id')
              .whereRef('s.id', '=', 'deliveries.claimed_by')
              .where('s.lease_until_ms', '>=', sql<number>`${dbNowMs(db)} - ${marginMs}`),
          ),
        ),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Senders seen within `recentMs` (database time), with the claims each holds (on one issue, if given). */
export async function listSenders(db: Db, options: { issueId?: number; recentMs: number }): Promise<SenderRow[]> {
  const claims = db
    .selectFrom('deliveries')
    .select(['claimed_by', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', '=', 'sending')
    .$if(options.issueId !== undefined, (q) => q.where('issue_id', '=', options.issueId ?? 0))
    .groupBy('claimed_by')
    .as('c');
  const rows = await db
    .selectFrom('senders as s')
    .leftJoin(claims, 'c.claimed_by', 's.id')
    .select([
      's.id',
      's.host',
      's.pid',
      's.started_at',
      's.lease_until_ms',
      's.last_seen_ms',
      's.sent',
      's.rate',
      's.stopped_at',
      'c.n as claims',
      dbNowMs(db).as('now_ms'),
    ])
    .where('s.last_seen_ms', '>=', sql<number>`${dbNowMs(db)} - ${options.recentMs}`)
    .orderBy('s.started_at')
    .orderBy('s.id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    host: r.host,
    pid: Number(r.pid),
    startedAt: r.started_at,
    leaseUntil: new Date(Number(r.lease_until_ms)),
    lastSeen: new Date(Number(r.last_seen_ms)),
    sent: Number(r.sent),
    rate: Number(r.rate),
    stoppedAt: r.stopped_at,
    claims: Number(r.claims ?? 0),
    alive: r.stopped_at === null && Number(r.lease_until_ms) >= Number(r.now_ms),
  }));
}

/** Forgets senders not seen for `olderThanMs` (their rows only serve the operators' lists). */
export async function purgeSenders(db: Db, olderThanMs: number): Promise<void> {
  await db
    .deleteFrom('senders')
    .where('last_seen_ms', '<', sql<number>`${dbNowMs(db)} - ${olderThanMs}`)
    .execute();
}

// ---------------------------------------------------------------------------------------------
// SEND_RATE_LIMIT as one token bucket for all senders.

const BUCKET = 'send';

/**
 * Takes `count` tokens from the shared bucket if it holds them, in one statement (atomic on SQLite
 * and PostgreSQL alike): the bucket refills at `perSecond` up to `capacity`, by the database's
 * clock. Returns true when the tokens were taken. One round trip when the bucket exists (every
 * take but the cluster's first): a starved sender must not pay two per message.
 */
export async function takeSendTokens(db: Db, count: number, perSecond: number, capacity: number): Promise<boolean> {
  // The rate may be fractional: PostgreSQL would read a bare parameter beside a bigint as a bigint.
  const rate = sql<number>`cast(${perSecond} as double precision)`;
  const refilled = sql<number>`(tokens + (${dbNowMs(db)} - refilled_ms) * ${rate} / 1000.0)`;
  const available = sql<number>`(case when ${refilled} > ${capacity} then ${capacity} else ${refilled} end)`;
  const take = async () => {
    const result = await db
      .updateTable('send_rate')
      .set({ tokens: sql<number>`${available} - ${count}`, refilled_ms: dbNowMs(db) })
      .where('id', '=', BUCKET)
      .where(available, '>=', count)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  };
  if (await take()) return true;
  // Not taken: the bucket is short of tokens, or does not exist yet (then it starts full).
  const created = await db
    .insertInto('send_rate')
    .values({ id: BUCKET, tokens: capacity, refilled_ms: dbNowMs(db) })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  return Number(created.numInsertedOrUpdatedRows ?? 0) === 1 && (await take());
}

// ---------------------------------------------------------------------------------------------
// Leader lock on SQLite (PostgreSQL uses pg_try_advisory_lock, see leader.ts).

/** Takes or renews a named lock for `leaseMs`; true when `holder` has it now. */
export async function claimLeaderLock(db: Db, name: string, holder: string, leaseMs: number): Promise<boolean> {
  const until = sql<number>`${dbNowMs(db)} + ${leaseMs}`;
  const result = await db
    .insertInto('leader_locks')
    .values({ name, holder, lease_until_ms: until })
    .onConflict((oc) =>
      oc
        .column('name')
        .doUpdateSet({ holder, lease_until_ms: until })
        .where((eb) =>
          eb.or([eb('leader_locks.holder', '=', holder), eb('leader_locks.lease_until_ms', '<', dbNowMs(db))]),
        ),
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function releaseLeaderLock(db: Db, name: string, holder: string): Promise<void> {
  await db.deleteFrom('leader_locks').where('name', '=', name).where('holder', '=', holder).execute();
}
