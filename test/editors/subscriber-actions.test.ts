import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { erasedAddressHash } from '../../subscribers/address.js';
import { findSubscriberByEmail, listConsentLog } from '../../subscribers/subscriber-repository.js';
import { signedUpThroughForm } from '../helpers/form-signup.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { signedInEditor, type Client, type SignedIn } from './admin-helpers.js';

// Issue 11 §4: on a subscriber's page an editor changes name and topics (logged as the editor's
// change), sends a pending subscriber a fresh confirmation mail (over loopback SMTP), unsubscribes
// them, and erases them after a confirmation step. Real app, real SQLite file.

describe('a subscriber’s page: what an editor can do', () => {
  let signedIn: SignedIn;
  let services: Services;
  let client: Client;
  let sink: SmtpSink;
  let uid = '';
  let token = '';

  beforeAll(async () => {
    sink = await startSmtpSink();
    signedIn = await signedInEditor({ env: { SMTP_URL: sink.url } });
    ({ services, client } = signedIn);
    const created = await signedUpThroughForm(services.db, {
      email: 'waiting@example.org',
      name: 'Waiting',
      topics: ['open-data'],
      status: 'pending',
    });
    uid = created.uid;
    token = await client.csrfToken(`/admin/subscribers/${uid}`);
  });
  afterAll(async () => {
    await signedIn?.close();
    await sink?.close();
  });

  const last = async () => {
    const s = await findSubscriberByEmail(services.db, 'waiting@example.org');
    return (await listConsentLog(services.db, s?.id ?? 0)).at(-1);
  };

  it('changes name and topics, logged as the editor’s change', async () => {
    const form = new URLSearchParams({ _csrf: token, name: 'Wai <Ting>' });
    form.append('topics', 'city-services');
    form.append('topics', 'shared-ledgers');
    const res = await client.post(`/admin/subscribers/${uid}/profile`, form);
    expect(res.headers.get('location')).toBe(`/admin/subscribers/${uid}?notice=saved`);
    const after = await findSubscriberByEmail(services.db, 'waiting@example.org');
    expect(after?.name).toBe('Wai <Ting>');
    expect(after?.topicSlugs.sort()).toEqual(['city-services', 'shared-ledgers']);
    expect(await last()).toMatchObject({ action: 'editor-changed', source: 'admin' });
    const page = await (await client.get(`/admin/subscribers/${uid}`)).text();
    expect(page).toContain('value="Wai &lt;Ting&gt;"');
    expect(page).toMatch(/<td>Details changed by an editor<\/td>\s*<td>an editor in the app<\/td>/);
  });

  it('sends a pending subscriber a fresh confirmation mail whose link opens the confirmation', async () => {
    const res = await client.post(`/admin/subscribers/${uid}/resend-confirmation`, { _csrf: token });
    expect(res.headers.get('location')).toBe(`/admin/subscribers/${uid}?notice=confirmation-sent`);
    const [mail] = await sink.waitFor(1);
    expect(mail?.envelopeTo).toEqual(['waiting@example.org']);
    const link = /https?:\/\/\S+\/confirm\?token=[\w.-]+/.exec(mail?.parsed.text ?? '')?.[0] ?? '';
    expect(link).not.toBe('');
    const page = await fetch(link.replace(/^https?:\/\/[^/]+/, signedIn.app.url));
    expect(page.status).toBe(200);
  });

  it('unsubscribes them, logged with source admin and the editor', async () => {
    const res = await client.post(`/admin/subscribers/${uid}/unsubscribe`, { _csrf: token });
    expect(res.status).toBe(303);
    expect((await findSubscriberByEmail(services.db, 'waiting@example.org'))?.status).toBe('unsubscribed');
    expect(await last()).toMatchObject({ action: 'unsubscribe', source: 'admin', detail: '{"by":"ed@example.org"}' });
    // An unsubscribed address is its owner's to bring back: no more editing.
    const refused = await client.post(`/admin/subscribers/${uid}/profile`, { _csrf: token, name: 'Back' });
    expect(refused.status).toBe(409);
  });

  it('erases them only after the confirmation page, typed address and all', async () => {
    const confirm = await (await client.get(`/admin/subscribers/${uid}/erase`)).text();
    expect(confirm).toContain('This cannot be undone');
    const wrong = await client.post(`/admin/subscribers/${uid}/erase`, { _csrf: token, confirm: 'someone@else.org' });
    expect(wrong.status).toBe(400);
    expect(await findSubscriberByEmail(services.db, 'waiting@example.org')).toBeDefined();
    const done = await client.post(`/admin/subscribers/${uid}/erase`, { _csrf: token, confirm: 'waiting@example.org' });
    expect(done.headers.get('location')).toBe('/admin/subscribers?notice=erased');
    expect(await findSubscriberByEmail(services.db, 'waiting@example.org')).toBeUndefined();
    const hash = erasedAddressHash(signedIn.env.config.secretKey, 'waiting@example.org');
    expect(
      await services.db.selectFrom('erased_addresses').select('email_hash').where('email_hash', '=', hash).execute(),
    ).toHaveLength(1);
  });
});
