import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { erasedAddressHash } from '../../subscribers/address.js';
import { findSubscriberByEmail } from '../../subscribers/subscriber-repository.js';
import { signToken } from '../../subscribers/tokens.js';
import { runCli } from '../helpers/cli.js';
import {
  Client,
  confirmVia,
  linkIn,
  mainOf,
  nextMailTo,
  signUp,
  startHarness,
  type WebHarness,
} from './web-harness.js';

let h: WebHarness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Signs up and confirms through the real mail, then returns the manage link the "already subscribed" mail carries. */
async function confirmedSubscriber(email: string, topics: string[]): Promise<{ client: Client; managePath: string }> {
  const client = new Client(h.base);
  let seen = h.sink.received.length;
  await signUp(client, { email, name: 'Pat', topics });
  expect((await confirmVia(client, linkIn(await nextMailTo(h.sink, email, seen), '/confirm'))).res.status).toBe(200);
  seen = h.sink.received.length;
  await signUp(client, { email });
  const managePath = linkIn(await nextMailTo(h.sink, email, seen), '/preferences');
  return { client, managePath };
}

async function formFields(client: Client, path: string): Promise<{ csrf: string; html: string }> {
  const { res, html } = await client.get(path);
  expect(res.status).toBe(200);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!csrf) throw new Error('no CSRF field');
  return { csrf, html };
}

describe('preferences page', () => {
  it('changes topics and name, unsubscribes and subscribes again, each logged', async () => {
    const { client, managePath } = await confirmedSubscriber('prefs@example.org', ['open-data']);
    const { csrf, html } = await formFields(client, managePath);
    expect(html).toContain('prefs@example.org');
    expect(html).toMatch(/value="open-data" id="topic-open-data" checked/);
    expect(html).toContain('<meta name="robots" content="noindex">');

    const saved = await client.post(managePath, {
      _csrf: csrf,
      action: 'save',
      name: 'Pat <Q>',
      topics: ['shared-ledgers', 'city-services'],
    });
    expect(saved.res.status).toBe(200);
    expect(mainOf(saved.html)).toContain('Your choices are saved.');
    expect(saved.html).toContain('value="Pat &lt;Q&gt;"');
    let s = await findSubscriberByEmail(h.services.db, 'prefs@example.org');
    expect(s?.name).toBe('Pat <Q>');
    expect(s?.topicSlugs).toEqual(['shared-ledgers', 'city-services']);

    // No topic ticked = every topic.
    await client.post(managePath, { _csrf: csrf, action: 'save', name: 'Pat' });
    expect((await findSubscriberByEmail(h.services.db, 'prefs@example.org'))?.topicSlugs).toEqual([]);

    const bad = await client.post(managePath, { _csrf: csrf, action: 'save', name: 'Pat', topics: ['no-such-topic'] });
    expect(bad.res.status).toBe(400);
    expect(bad.html).toContain('Choose topics from the list.');

    const unsub = await client.post(managePath, { _csrf: csrf, action: 'unsubscribe' });
    expect(unsub.res.status).toBe(200);
    expect((await findSubscriberByEmail(h.services.db, 'prefs@example.org'))?.status).toBe('unsubscribed');
    expect(unsub.html).toContain('value="resubscribe"');

    const back = await client.post(managePath, { _csrf: csrf, action: 'resubscribe' });
    expect(back.res.status).toBe(200);
    s = await findSubscriberByEmail(h.services.db, 'prefs@example.org');
    expect(s?.status).toBe('active');

    const log = await h.services.db
      .selectFrom('consent_log')
      .selectAll()
      .where('subscriber_id', '=', s?.id ?? 0)
      .orderBy('id')
      .execute();
    const prefEntries = log.filter((l) => l.source === 'preferences').map((l) => l.action);
    expect(prefEntries).toEqual(['preferences-changed', 'preferences-changed', 'unsubscribe', 'resubscribe']);
    expect(JSON.parse(log.find((l) => l.action === 'preferences-changed')?.detail ?? '{}')).toEqual({
      changed: ['name', 'topics'],
      topics: ['shared-ledgers', 'city-services'],
    });
  });

  it('refuses a post without the CSRF token and one with a bad link, changing nothing', async () => {
    const { client, managePath } = await confirmedSubscriber('guarded@example.org', ['open-data']);
    const forged = await new Client(h.base).post(managePath, { action: 'unsubscribe' });
    expect(forged.res.status).toBe(403);

    const { csrf } = await formFields(client, managePath);
    const s = await findSubscriberByEmail(h.services.db, 'guarded@example.org');
    const secret = h.services.config.secretKey;
    for (const token of [
      signToken(secret, 'unsubscribe', s?.uid ?? ''),
      signToken(secret, 'manage', s?.uid ?? '', new Date(Date.now() - 1)),
      managePath.split('token=')[1]?.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) ?? '',
    ]) {
      const res = await client.post(`/preferences?token=${token}`, { _csrf: csrf, action: 'erase-confirmed' });
      expect(res.res.status, token).toBeGreaterThanOrEqual(400);
      expect(res.res.status, token).toBeLessThan(500);
      expect(mainOf(res.html)).toContain('Nothing has been changed');
    }
    const after = await findSubscriberByEmail(h.services.db, 'guarded@example.org');
    expect(after?.status).toBe('active');
    expect(after?.topicSlugs).toEqual(['open-data']);
  });

  it('exports everything held as JSON', async () => {
    const { client, managePath } = await confirmedSubscriber('export.me@example.org', ['open-data', 'city-services']);
    const { csrf } = await formFields(client, managePath);
    const res = await client.request(managePath, {
      method: 'POST',
      body: new URLSearchParams({ _csrf: csrf, action: 'export' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename=/);
    const data = (await res.json()) as {
      subscriber: Record<string, unknown>;
      consentLog: { action: string; source: string; ip: string | null }[];
      deliveries: unknown[];
    };
    const s = await findSubscriberByEmail(h.services.db, 'export.me@example.org');
    expect(data.subscriber).toMatchObject({
      email: 'export.me@example.org',
      name: 'Pat',
      status: 'active',
      publicId: s?.uid,
      signedUpAt: s?.createdAt,
      confirmedAt: s?.confirmedAt,
      topics: [
        { slug: 'open-data', name: 'Open Data' },
        { slug: 'city-services', name: 'City Services' },
      ],
    });
    expect(data.consentLog.map((l) => `${l.action}/${l.source}`)).toEqual([
      'signup/form',
      'confirm/form',
      'signup-repeated/form',
    ]);
    expect(data.consentLog[0]?.ip).toBe('127.0.0.1');
    expect(data.deliveries).toEqual([]);
  });

  it('erases the row and its log after a confirmation step; an import of the address is then refused', async () => {
    const { client, managePath } = await confirmedSubscriber('erase.me@example.org', ['open-data']);
    const before = await findSubscriberByEmail(h.services.db, 'erase.me@example.org');
    const { csrf } = await formFields(client, managePath);

    const step = await client.post(managePath, { _csrf: csrf, action: 'erase' });
    expect(step.res.status).toBe(200);
    expect(mainOf(step.html)).toContain('Erase your data?');
    expect(await findSubscriberByEmail(h.services.db, 'erase.me@example.org')).toBeDefined();

    const done = await client.post(managePath, { _csrf: csrf, action: 'erase-confirmed' });
    expect(done.res.status).toBe(200);
    expect(mainOf(done.html)).toContain('Your data is erased');

    const db = h.services.db;
    expect(await findSubscriberByEmail(db, 'erase.me@example.org')).toBeUndefined();
    expect(
      await db
        .selectFrom('consent_log')
        .select('id')
        .where('subscriber_id', '=', before?.id ?? 0)
        .execute(),
    ).toEqual([]);
    expect(
      await db
        .selectFrom('subscriber_topics')
        .select('topic_id')
        .where('subscriber_id', '=', before?.id ?? 0)
        .execute(),
    ).toEqual([]);
    const erased = await db.selectFrom('erased_addresses').selectAll().execute();
    expect(erased.map((e) => e.email_hash)).toContain(
      erasedAddressHash(h.services.config.secretKey, 'erase.me@example.org'),
    );
    // Only the keyed hash remains: the address is in no table any more.
    const everything = JSON.stringify(
      await Promise.all(
        ['subscribers', 'consent_log', 'erased_addresses'].map((t) =>
          db
            .selectFrom(t as 'subscribers')
            .selectAll()
            .execute(),
        ),
      ),
    );
    expect(everything).not.toContain('erase.me');

    // The old manage link now finds nothing.
    expect((await client.get(managePath)).res.status).toBe(404);

    const csv = path.join(h.temp.dir, 'after-erasure.csv');
    writeFileSync(csv, 'email,name,topics\nErase.Me@example.org,Back Door,open-data\nfresh.import@example.org,New,\n');
    const run = await runCli(['subscribers', 'import', csv], h.temp.env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/line 2: erase\.me@example\.org was erased at the owner's request/);
    expect(run.stdout).toContain('1 added');
    expect(await findSubscriberByEmail(db, 'erase.me@example.org')).toBeUndefined();
    expect((await findSubscriberByEmail(db, 'fresh.import@example.org'))?.status).toBe('active');
  });
});
