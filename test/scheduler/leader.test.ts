import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { schedulerLeadership, type Leadership } from '../../scheduler/leader.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { testDialect } from '../helpers/test-database.js';
import { eventually } from '../helpers/eventually.js';

// Two processes of one cluster asking for the scheduler's lead: each has its own database pool
// (two `open()`s of one environment), so each holds its own connections, as two processes do.

const LEASE_MS = 60_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function twoProcesses(): Promise<[Services, Services]> {
  const env: TempEnv = makeTempEnv();
  cleanups.push(() => env.cleanup());
  const first = await env.open();
  cleanups.push(() => first.close());
  const second = await env.open();
  cleanups.push(() => second.close());
  return [first, second];
}

function leadership(services: Services, holder: string, leaseMs = LEASE_MS): Leadership {
  const lead = schedulerLeadership(services.db, holder, leaseMs);
  cleanups.push(() => lead.release());
  return lead;
}

/** PostgreSQL backends holding an advisory lock on this environment's schema (the scheduler's key). */
async function advisoryHolders(services: Services): Promise<number[]> {
  const { rows } = await sql<{ pid: number }>`select pid from pg_locks
    where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())
      and classid = 720411300 and objid = hashtext(current_schema())::oid and objsubid = 2`.execute(services.db);
  return rows.map((r) => r.pid);
}

describe('the scheduler lead (one process of the cluster at a time)', () => {
  it('goes to one of two processes; the other takes it once the first lets go', async () => {
    const [first, second] = await twoProcesses();
    const a = leadership(first, 'host:1:a');
    const b = leadership(second, 'host:2:b');
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    expect(await a.acquire()).toBe(true);
    await a.release();
    await eventually('the second process to lead', () => b.acquire());
    expect(await a.acquire()).toBe(false);
  });

  it.skipIf(testDialect() !== 'postgres')(
    'PostgreSQL: a leader whose connection the server ended stops leading, and the other process leads',
    async () => {
      const [first, second] = await twoProcesses();
      // A tick of half a second: how long a check may wait for an answer, and half the time a leader
      // that lost its session sits out.
      const a = leadership(first, 'host:1:a', 500);
      const b = leadership(second, 'host:2:b', 500);
      expect(await a.acquire()).toBe(true);
      expect(await b.acquire()).toBe(false);
      const [backend] = await advisoryHolders(second);
      if (backend === undefined) throw new Error('no backend holds the scheduler lock');
      // What a server restart, a failover or an operator's pg_terminate_backend does to the session.
      const { rows } = await sql<{ done: boolean }>`select pg_terminate_backend(${backend}) as done`.execute(second.db);
      expect(rows[0]?.done).toBe(true);
      await eventually('the ended session to let go of the lock', () => advisoryHolders(second), {
        holds: (holders) => !holders.includes(backend),
      });

      // The first no longer claims the lead: its lock went with its session.
      expect(await a.acquire()).toBe(false);
      await eventually('the second process to lead', () => b.acquire());
      expect(await a.acquire()).toBe(false);
      expect(await b.acquire()).toBe(true);
      expect(await advisoryHolders(second)).toHaveLength(1);

      // The first still works (its pool replaced the dead connection) and leads again once the lock
      // is free and it has sat out its two ticks.
      await b.release();
      await eventually('the first process to lead again', () => a.acquire());
      expect(await b.acquire()).toBe(false);
    },
  );
});
