import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { erasedAddressHash } from '../../subscribers/address.js';
import { DATA_REQUESTS_PER_HOUR } from '../../subscribers/data-requests.js';
import { findSubscriberByEmail } from '../../subscribers/subscriber-repository.js';
import { signToken } from '../../subscribers/tokens.js';
import { runCli } from '../helpers/cli.js';
import { Client, confirmedSubscriber, formFields, linkIn, mainOf, nextMailTo, useHarness } from './web-harness.js';

// Issue 9 item 12: every issue carries the manage link, so whoever gets a forwarded issue holds it.
// From the manage page, export and erase only mail a short-lived link to the address itself; that
// link's page does it, on a button (POST). A real server, a real SMTP sink whose mail is parsed.

const h = useHarness();

describe('export and erase from a manage link', () => {
  it('export: the manage link mails a link to the address; only that link downloads the data', async () => {
    const { managePath } = await confirmedSubscriber(h, 'export.me@example.org', ['open-data', 'city-services']);
    // Whoever received a forwarded issue: another browser holding the same manage link.
    const forwardee = new Client(h.base);
    const { csrf } = await formFields(forwardee, managePath);
    const seen = h.sink.received.length;
    const asked = await forwardee.request(managePath, {
      method: 'POST',
      body: new URLSearchParams({ _csrf: csrf, action: 'export' }),
    });
    expect(asked.status).toBe(200);
    expect(asked.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await asked.text();
    expect(mainOf(page)).toContain('We have emailed a link to export.me@example.org');
    expect(page).not.toContain('127.0.0.1');

    const mail = await nextMailTo(h.sink, 'export.me@example.org', seen);
    expect(mail.parsed.subject).toMatch(/download your data/);
    expect(mail.parsed.text).toContain('works for 60 minutes');
    const link = linkIn(mail, '/preferences/export');
    expect(link).toMatch(/^\/preferences\/export\?token=x\./);

    // Opening the link (HEAD or GET) shows a button, no data.
    const owner = new Client(h.base);
    expect((await owner.request(link, { method: 'HEAD' })).status).toBe(200);
    const { csrf: ownerCsrf, html } = await formFields(owner, link);
    expect(mainOf(html)).toContain('Download your data');
    expect(html).not.toContain('consentLog');
    const download = await owner.request(link, {
      method: 'POST',
      body: new URLSearchParams({ _csrf: ownerCsrf }),
    });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toMatch(/^application\/json/);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename=/);
    const data = (await download.json()) as {
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

    // An expired export link, a manage link in its place, or an export link used to erase: refused.
    const secret = h.services.config.secretKey;
    const uid = s?.uid ?? '';
    const expired = await owner.get(
      `/preferences/export?token=${signToken(secret, 'export', uid, new Date(Date.now() - 1))}`,
    );
    expect(expired.res.status).toBe(410);
    expect(mainOf(expired.html)).toContain('works for an hour');
    expect((await owner.get(`/preferences/export?token=${signToken(secret, 'manage', uid)}`)).res.status).toBe(400);
    expect((await owner.get(link.replace('/export?', '/erase?'))).res.status).toBe(400);
  });

  it('erase: the manage link mails a link; only that link’s button erases', async () => {
    const { managePath } = await confirmedSubscriber(h, 'erase.me@example.org', ['open-data']);
    const before = await findSubscriberByEmail(h.services.db, 'erase.me@example.org');
    const forwardee = new Client(h.base);
    const { csrf } = await formFields(forwardee, managePath);
    const seen = h.sink.received.length;
    const asked = await forwardee.post(managePath, { _csrf: csrf, action: 'erase' });
    expect(asked.res.status).toBe(200);
    expect(mainOf(asked.html)).toContain('We have emailed a link to erase.me@example.org');
    // The one-step erasure the manage page used to accept is gone.
    const direct = await forwardee.post(managePath, { _csrf: csrf, action: 'erase-confirmed' });
    expect(direct.res.status).toBe(400);
    expect(await findSubscriberByEmail(h.services.db, 'erase.me@example.org')).toBeDefined();

    const mail = await nextMailTo(h.sink, 'erase.me@example.org', seen);
    expect(mail.parsed.subject).toMatch(/^Confirm erasing your data/);
    const link = linkIn(mail, '/preferences/erase');
    const owner = new Client(h.base);
    expect((await owner.request(link, { method: 'HEAD' })).status).toBe(200);
    const { csrf: ownerCsrf, html } = await formFields(owner, link);
    expect(mainOf(html)).toContain('Erase your data?');
    expect(await findSubscriberByEmail(h.services.db, 'erase.me@example.org')).toBeDefined();
    // Without the page's form token nothing happens.
    expect((await new Client(h.base).post(link, {})).res.status).toBe(403);
    expect(await findSubscriberByEmail(h.services.db, 'erase.me@example.org')).toBeDefined();

    const done = await owner.post(link, { _csrf: ownerCsrf });
    expect(done.res.status).toBe(200);
    expect(mainOf(done.html)).toContain('Your data is erased');

    const db = h.services.db;
    expect(await findSubscriberByEmail(db, 'erase.me@example.org')).toBeUndefined();
    for (const table of ['consent_log', 'subscriber_topics'] as const) {
      expect(
        await db
          .selectFrom(table)
          .select('subscriber_id')
          .where('subscriber_id', '=', before?.id ?? 0)
          .execute(),
      ).toEqual([]);
    }
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
    // The old manage link and the erase link now find nothing.
    expect((await owner.get(managePath)).res.status).toBe(404);
    expect((await owner.get(link)).res.status).toBe(404);

    const csv = path.join(h.temp.dir, 'after-erasure.csv');
    writeFileSync(csv, 'email,name,topics\nErase.Me@example.org,Back Door,open-data\nfresh.import@example.org,New,\n');
    const run = await runCli(['subscribers', 'import', csv], h.temp.env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/line 2: erase\.me@example\.org was erased at the owner's request/);
    expect(run.stdout).toContain('1 added');
    expect(await findSubscriberByEmail(db, 'erase.me@example.org')).toBeUndefined();
    expect((await findSubscriberByEmail(db, 'fresh.import@example.org'))?.status).toBe('active');
  });

  it(`mails at most ${DATA_REQUESTS_PER_HOUR} such links an hour per manage link`, async () => {
    const { client, managePath } = await confirmedSubscriber(h, 'flooded@example.org', []);
    const { csrf } = await formFields(client, managePath);
    for (let i = 0; i < DATA_REQUESTS_PER_HOUR; i++) {
      expect((await client.post(managePath, { _csrf: csrf, action: i % 2 ? 'erase' : 'export' })).res.status).toBe(200);
    }
    const refused = await client.post(managePath, { _csrf: csrf, action: 'export' });
    expect(refused.res.status).toBe(429);
    expect(mainOf(refused.html)).toContain('Nothing has been changed');
    // Other changes on the page still work.
    expect((await client.post(managePath, { _csrf: csrf, action: 'save', name: 'Flo', topics: [] })).res.status).toBe(
      200,
    );
  });
});
