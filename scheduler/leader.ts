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

/**
 * PostgreSQL: `pg_try_advisory_lock` on a connection held for as long as this process leads. When
 * the process dies its session ends and PostgreSQL frees the lock at once; another process takes
 * it at its next tick.
 */
class AdvisoryLeadership implements Leadership {
  private held: Promise<boolean> | null = null;
  private leave: (() => void) | null = null;

  constructor(private readonly db: Db) {}

  acquire(): Promise<boolean> {
    this.held ??= new Promise<boolean>((resolve) => {
      this.db
        .connection()
        .execute(async (connection) => {
          const { rows } = await sql<{ ok: boolean }>`select pg_try_advisory_lock(${schedulerLockKey}) as ok`.execute(
            connection,
          );
          if (rows[0]?.ok !== true) return resolve(false);
          resolve(true);
          await new Promise<void>((done) => (this.leave = done));
          await sql`select pg_advisory_unlock(${schedulerLockKey})`.execute(connection);
        })
        .catch(() => resolve(false))
        .finally(() => {
          this.held = null;
          this.leave = null;
        });
    }).then((ok) => {
      if (!ok) this.held = null;
      return ok;
    });
    return this.held;
  }

  release(): Promise<void> {
    this.leave?.();
    return Promise.resolve();
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
  return isPostgres(db) ? new AdvisoryLeadership(db) : new LeaseLeadership(db, holder, leaseMs);
}
