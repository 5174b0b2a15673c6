import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { storeImage } from '../../editors/articles/media.js';
import type { Services } from '../../src/app/services.js';
import { createWebApp } from '../../src/web/server.js';
import { makePng } from '../fixtures/png.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { testDialect } from '../helpers/test-database.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function webServer(temp: TempEnv): Promise<{ services: Services; base: string }> {
  const services = await temp.open();
  const server: Server = createWebApp(services).listen(0, '127.0.0.1');
  cleanups.push(
    () => temp.cleanup(),
    () => services.close(),
    () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  );
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return { services, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe(`several web servers (${testDialect()})`, () => {
  it('serve what any of them stored: one database, one MEDIA_DIR, each its own DATA_DIR', async () => {
    const media = mkdtempSync(path.join(os.tmpdir(), 'newsletter-media-'));
    cleanups.push(() => rmSync(media, { recursive: true, force: true }));
    const first = makeTempEnv({ MEDIA_DIR: media });
    const shared = { MEDIA_DIR: media, DATABASE_URL: first.config.databaseUrl };
    const one = await webServer(makeTempEnv(shared));
    const two = await webServer(makeTempEnv(shared));
    expect(one.services.config.mediaDir).toBe(media);

    const png = makePng(30, 20);
    const { url } = await storeImage(one.services, { originalname: 'map.png', buffer: png, size: png.length }, 'A map');
    const served = await fetch(two.base + url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await served.arrayBuffer()).equals(png)).toBe(true);
    // The other server's database has the upload's record too (the editors' media list reads it).
    const rows = await two.services.db.selectFrom('media').select(['filename', 'alt']).execute();
    expect(rows).toEqual([{ filename: url.replace('/media/', ''), alt: 'A map' }]);
    first.cleanup();
  });
});
