import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openServices, type Services } from '../../src/app/services.js';
import { createLogger } from '../../src/log/logger.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { findSubscriberByEmail } from '../../subscribers/subscriber-repository.js';
import { subscriberLinks } from '../../subscribers/tokens.js';
import { startChildServer, type ChildServer } from '../helpers/child-server.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { Client } from '../subscribers/web-harness.js';

// Node 24.19+ with better-sqlite3 before 13 served for a few seconds and then died with SIGABRT: a
// garbage collection finalised statements with no environment entered. This runs the service
// exactly as a user does (`npm start`, under the Node running the tests) and keeps it busy with
// 2,000 requests, sign-ups and one-click unsubscribes among them, then checks it still answers.

const TOTAL_REQUESTS = 2_000;
const SIGNUPS = 150; // two requests each: the form, then the POST
const UNSUBSCRIBES = 150;
const CONCURRENCY = 8;
const PAGES = ['/issues', '/issues/welcome', '/issues/welcome?topics=privacy', '/feed.xml', '/healthz', '/subscribe'];

let env: TempEnv;
let server: ChildServer;

beforeAll(async () => {
  env = makeTempEnv();
  server = await startChildServer(env.env, 60_000, { through: 'npm-start' });
});
afterAll(async () => {
  await server?.stop();
  env?.cleanup();
});

/** Active subscribers added beside the running server, as `newsletter subscribers add` does. */
async function seedSubscribers(count: number): Promise<string[]> {
  const services: Services = await openServices(env.config, { logger: createLogger('silent') });
  try {
    const paths: string[] = [];
    for (let i = 0; i < count; i++) {
      const email = `reader${i}@example.org`;
      await addSubscriber(services.db, env.config.secretKey, { email, topics: ['privacy'] }, { source: 'cli' });
      const subscriber = await findSubscriberByEmail(services.db, email);
      if (!subscriber) throw new Error(`${email} was not added`);
      const url = new URL(subscriberLinks(env.config, subscriber.uid).unsubscribeUrl);
      paths.push(url.pathname + url.search);
    }
    return paths;
  } finally {
    await services.close();
  }
}

async function statusesOf(emails: string[]): Promise<Map<string, number>> {
  const services = await openServices(env.config, { logger: createLogger('silent') });
  try {
    const counts = new Map<string, number>();
    for (const email of emails) {
      const status = (await findSubscriberByEmail(services.db, email))?.status ?? 'missing';
      counts.set(status, (counts.get(status) ?? 0) + 1);
    }
    return counts;
  } finally {
    await services.close();
  }
}

/** One visitor's requests; resolves to the status of each. */
type Job = () => Promise<number[]>;

function signUpJob(i: number): Job {
  return async () => {
    const client = new Client(server.url);
    // Sign-ups arrive from many people through the reverse proxy (loopback is a trusted proxy), so
    // the per-IP sign-up limit is not what this test measures.
    const headers = { 'x-forwarded-for': `198.51.100.${i % 250}` };
    const form = await client.request('/subscribe', { headers });
    const html = await form.text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const body = new URLSearchParams({ _csrf: csrf, email: `new${i}@example.org`, name: '', topics: 'privacy' });
    const res = await client.request('/subscribe', { method: 'POST', body, headers });
    await res.arrayBuffer();
    return [form.status, res.status];
  };
}

function unsubscribeJob(path: string): Job {
  return async () => {
    const res = await fetch(server.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
      redirect: 'manual',
    });
    await res.arrayBuffer();
    return [res.status];
  };
}

function pageJob(path: string): Job {
  return async () => {
    const res = await fetch(server.url + path, { redirect: 'manual' });
    await res.arrayBuffer();
    return [res.status];
  };
}

/** Runs the jobs `concurrency` at a time; returns how many answered each status. */
async function runAll(jobs: Job[], concurrency: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      if (!job) break;
      for (const status of await job()) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

describe('`npm start` under the running Node', () => {
  it(`serves ${TOTAL_REQUESTS} requests, sign-ups and one-click unsubscribes included, and is still alive`, async () => {
    expect(server.output()).toContain('Loaded the demo issue "welcome"');
    const unsubscribePaths = await seedSubscribers(UNSUBSCRIBES);

    const pageCount = TOTAL_REQUESTS - 2 * SIGNUPS - UNSUBSCRIBES;
    const jobs: Job[] = [];
    // Interleaved, so writes, renders and idle moments mix as they do in real traffic.
    for (let i = 0; i < Math.max(SIGNUPS, UNSUBSCRIBES, pageCount); i++) {
      if (i < SIGNUPS) jobs.push(signUpJob(i));
      if (i < UNSUBSCRIBES) jobs.push(unsubscribeJob(unsubscribePaths[i] ?? ''));
      if (i < pageCount) jobs.push(pageJob(PAGES[i % PAGES.length] ?? '/healthz'));
    }
    const statuses = await runAll(jobs, CONCURRENCY);
    // Every request answered 200: 2 × sign-ups + unsubscribes + pages = 2,000 requests.
    expect(Object.fromEntries(statuses)).toEqual({ 200: TOTAL_REQUESTS });

    // The writes took effect.
    const seeded = Array.from({ length: UNSUBSCRIBES }, (_, i) => `reader${i}@example.org`);
    expect(Object.fromEntries(await statusesOf(seeded))).toEqual({ unsubscribed: UNSUBSCRIBES });
    const signedUp = Array.from({ length: SIGNUPS }, (_, i) => `new${i}@example.org`);
    expect(Object.fromEntries(await statusesOf(signedUp))).toEqual({ pending: SIGNUPS });

    // Still alive: no exit, no signal, and it still answers.
    expect(server.child.exitCode).toBeNull();
    expect(server.child.signalCode).toBeNull();
    expect(await (await fetch(`${server.url}/healthz`)).text()).toBe('ok');
    expect(server.output()).not.toMatch(/Assertion failed|SIGABRT|FATAL ERROR/);
  }, 240_000);
});
