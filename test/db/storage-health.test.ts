import SQLite from 'better-sqlite3';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { StorageHealth } from '../../src/db/storage-health.js';
import { createWebApp } from '../../src/web/server.js';
import { eventually } from '../helpers/eventually.js';
import { mountSmallDisk, smallDiskAvailable, type SmallDisk } from '../helpers/small-disk.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// A real SQLite file on a real filesystem that fills up (a small tmpfs).

let disk: SmallDisk | undefined;
let env: TempEnv | undefined;
let services: Services | undefined;
let server: Server | undefined;
afterEach(async () => {
  if (server) await new Promise<void>((resolve) => server?.close(() => resolve()));
  await services?.close();
  disk?.unmount();
  env?.cleanup();
  disk = env = services = server = undefined;
});

async function onSmallDisk(): Promise<{ disk: SmallDisk; services: Services }> {
  disk = mountSmallDisk(2048);
  env = makeTempEnv({ DATA_DIR: disk.dir });
  services = await env.open();
  return { disk, services };
}

describe.runIf(smallDiskAvailable)('a database on a full disk', () => {
  it('a failed write reports SQLITE_FULL, not "cannot rollback - no transaction is active"', async () => {
    const { disk, services } = await onSmallDisk();
    disk.fill();
    const error = (await importFolder(services.db, DEMO_DIR).catch((e: unknown) => e)) as Error & { code?: string };
    expect(error).toBeInstanceOf(Error);
    expect(error.message).not.toMatch(/cannot rollback/);
    expect(error.code).toBe('SQLITE_FULL');
    expect(error.message).toMatch(/database or disk is full/);
    // Room again: the same import succeeds, and nothing half-written was left behind.
    disk.free();
    await expect(importFolder(services.db, DEMO_DIR)).resolves.toMatchObject({ slug: 'welcome' });
  });

  it('/healthz answers 503 naming the failure while the database cannot be written', async () => {
    const { disk, services: s } = await onSmallDisk();
    server = createWebApp(s).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server?.once('listening', () => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
    const before = await fetch(url);
    expect([before.status, await before.text()]).toEqual([200, 'ok']);
    disk.fill();
    await importFolder(s.db, DEMO_DIR).catch(() => undefined);
    const full = await fetch(url);
    expect(full.status).toBe(503);
    expect(await full.text()).toMatch(/^database cannot be written \(.*SQLITE_FULL/);
  });
});

describe.runIf(smallDiskAvailable)('StorageHealth', () => {
  it('is writable again once the probe writes and the last storage error is a minute old', async () => {
    const { disk, services: s } = await onSmallDisk();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const health = new StorageHealth(() => now);
    expect(await health.check(s.db)).toEqual({ writable: true });
    disk.fill();
    now += 1000;
    const full = await health.check(s.db);
    expect(full.writable).toBe(false);
    disk.free();
    now += 1000;
    expect((await health.check(s.db)).writable).toBe(false); // the failure is recent
    now += 60_000;
    expect(await health.check(s.db)).toEqual({ writable: true });
  });

  it('counts only errors that are about storage', async () => {
    env = makeTempEnv();
    services = await env.open();
    const health = new StorageHealth();
    health.record(Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_UNIQUE' }));
    health.record(new Error('no code'));
    expect(await health.check(services.db)).toEqual({ writable: true });
    health.record(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }));
    expect(await health.check(services.db)).toMatchObject({
      writable: false,
      reason: expect.stringMatching(/SQLITE_IOERR_WRITE/) as string,
    });
  });
});

describe('StorageHealth while another process holds the write lock', () => {
  it('answers from the last probe at once instead of waiting for the lock, and probes again once it is free', async () => {
    env = makeTempEnv();
    services = await env.open();
    const { db } = services;
    let now = Date.parse('2026-01-01T00:00:00Z');
    const health = new StorageHealth(() => now);
    expect(await health.check(db)).toEqual({ writable: true });
    const probed = async () =>
      (await db.selectFrom('health_probe').select('checked_at').executeTakeFirstOrThrow()).checked_at;
    const firstProbe = await probed();
    // Another process (an import's batch) holds the write lock.
    const other = new SQLite(env.config.databaseUrl, { timeout: 0 });
    try {
      other.exec('begin immediate');
      now += 1_000;
      const started = performance.now();
      expect(await health.check(db)).toEqual({ writable: true });
      const waitedMs = performance.now() - started;
      // Before, the check waited for the lock (here it would have waited 30 s, then failed).
      expect(waitedMs).toBeLessThan(900);
      expect(await probed()).toBe(firstProbe);
      other.exec('commit');
    } finally {
      if (other.inTransaction) other.exec('rollback');
      other.close();
    }
    // The probe that waited for the lock has written since.
    await eventually('the probe that waited for the lock to write', probed, {
      holds: (probe) => probe !== firstProbe,
      timeoutMs: 10_000,
      intervalMs: 10,
    });
  });
});
