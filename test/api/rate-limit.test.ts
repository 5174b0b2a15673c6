import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../api/api-keys.js';
import type { Services } from '../../src/app/services.js';
import { createWebApp } from '../../src/web/server.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// API_RATE_LIMIT: each key has its own budget per minute, announced in RateLimit headers (IETF
// draft 8), and a request past it gets a 429 problem.

let temp: TempEnv;
let services: Services;
let server: Server;
let base: string;

beforeAll(async () => {
  temp = makeTempEnv({ API_RATE_LIMIT: '3' });
  services = await temp.open();
  server = createWebApp(services).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await services.close();
  temp.cleanup();
});

describe('per-key rate limit', () => {
  it('counts each key apart and answers 429 with RateLimit headers past the limit', async () => {
    const one = await createApiKey(services.db, { name: 'one', scopes: ['stats:read'], createdBy: 'test' });
    const two = await createApiKey(services.db, { name: 'two', scopes: ['stats:read'], createdBy: 'test' });
    const get = (key: string) =>
      fetch(`${base}/api/v1/stats/subscribers`, { headers: { authorization: `Bearer ${key}` } });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await get(one.text);
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toMatch(/q=3; w=60/);
      remaining.push(/r=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1] ?? '');
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const refused = await get(one.text);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await refused.json()) as { type: string }).type).toBe('/api/v1/problems/rate-limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await get(two.text)).status).toBe(200);
  });
});
