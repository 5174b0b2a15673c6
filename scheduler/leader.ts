import { sql } from 'kysely';
import type { Db } from '../src/db/database.js';
import { isPostgres } from './db-clock.js';
import { claimLeaderLock, releaseLeaderLock } from './sender-repository.js';

/** Whether this process may run a cluster-wide singleton job (the scheduler's tick) right now. */
export interface Leadership {
  /** Takes the lead if it is free, keeps it if held; true while this process leads. */
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}

/**
 * The advisory lock of the scheduler's tick: a number fixed for this service, and the schema the
 * tables are in. Advisory locks belong to the whole database, and publications that share one
 * database in schemas of their own (`?schema=`) each need their own scheduler.
 */
const SCHEDULER_LOCK_CLASS = 720_411_300;
const schedulerLockKey = sql`${sql.lit(SCHEDULER_LOCK_CLASS)}::int4, hashtext(current_schema())`;

/** The connection holding the advisory lock, and how to let it go. */
interface HeldLock {
  connection: Db;
  leave: () => void;
}

/**
 * PostgreSQL: `pg_try_advisory_lock` on a connection held for as long as this process leads. When
 * the process dies its session ends and PostgreSQL frees the lock at once; another process takes
 * it at its next tick. The session can also end while this process lives on (a server restart, a
 * failover, pg_terminate_backend, a cut network): the lock is then free for another process, so
 * every acquire() while held asks the held connection whether its session still has the lock, and
 * gives up the lead when it does not or does not answer within `checkMs` (a tick). Having lost it so,
 * it sits out two ticks before asking for the lock again: the process whose connection just failed
 * is the suspect one, and every other live process tries once per tick, so one of them leads.
 */
class AdvisoryLeadership implements Leadership {
  private held: HeldLock | null = null;
  private asking: Promise<boolean> | null = null;
  /** performance.now() before which this process does not ask for the lock (after losing its session). */
  private restUntil = 0;

  constructor(
    private readonly db: Db,
    private readonly checkMs: number,
  ) {}

  acquire(): Promise<boolean> {
    // One question at a time: the tick and the renewal may ask together.
    if (!this.held && performance.now() < this.restUntil) return Promise.resolve(false);
    this.asking ??= (this.held ? this.stillHeld(this.held) : this.take()).finally(() => (this.asking = null));
    return this.asking;
  }

  release(): Promise<void> {
    this.drop();
    return Promise.resolve();
  }

  private drop(): void {
    this.held?.leave();
    this.held = null;
  }

  private async stillHeld(held: HeldLock): Promise<boolean> {
    const check = sql<{ n: number }>`select count(*) as n from pg_locks
      where locktype = 'advisory' and granted and pid = pg_backend_pid()
        and classid = ${sql.lit(SCHEDULER_LOCK_CLASS)} and objid = hashtext(current_schema())::oid and objsubid = 2`
      .execute(held.connection)
      .then(({ rows }) => Number(rows[0]?.n) === 1);
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.checkMs)));
    const holds = await Promise.race([check, silent])
      .catch(() => false)
      .finally(() => clearTimeout(timer));
    if (!holds && this.held === held) {
      this.drop();
      this.restUntil = performance.now() + 2 * this.checkMs;
    }
    return holds;
  }

  private take(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.db
        .connection()
        .execute(async (connection) => {
          const { rows } = await sql<{ ok: boolean }>`select pg_try_advisory_lock(${schedulerLockKey}) as ok`.execute(
            connection,
          );
          if (rows[0]?.ok !== true) return resolve(false);
          const left = new Promise<void>((leave) => (this.held = { connection, leave }));
          resolve(true);
          await left;
          // Fails on a connection the server ended: its lock went with it, and the pool drops it.
          await sql`select pg_advisory_unlock(${schedulerLockKey})`.execute(connection);
        })
        .catch(() => resolve(false));
    });
  }
}

/**
 * SQLite: a row in `leader_locks` with a lease by the database's clock, renewed while this process
 * leads; a dead leader's lease runs out and the next process to ask takes it.
 */
class LeaseLeadership implements Leadership {
  constructor(
    private readonly db: Db,
    private readonly holder: string,
    private readonly leaseMs: number,
  ) {}

  acquire(): Promise<boolean> {
    return claimLeaderLock(this.db, 'scheduler', this.holder, this.leaseMs);
  }

  release(): Promise<void> {
    return releaseLeaderLock(this.db, 'scheduler', this.holder);
  }
}

export function schedulerLeadership(db: Db, holder: string, leaseMs: number): Leadership {
  return isPostgres(db) ? new AdvisoryLeadership(db, leaseMs) : new LeaseLeadership(db, holder, leaseMs);
}
