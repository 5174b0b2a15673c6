import { afterEach, describe, expect, it } from 'vitest';
import { listApiKeys } from '../../api/api-key-repository.js';
import { signedInEditor, type SignedIn } from '../editors/admin-helpers.js';

// Settings → API keys in the editors' app: admins make a key (shown once), see its last use, revoke
// it; editors cannot open the page.

let s: SignedIn | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const apiGet = (base: string, key: string) =>
  fetch(`${base}/api/v1/issues`, { headers: { authorization: `Bearer ${key}` } });

describe('API keys in the app', () => {
  it('lets an admin make a key shown once, see its last use and revoke it', async () => {
    s = await signedInEditor({ role: 'admin', withLongIssue: false });
    const csrf = await s.client.csrfToken('/admin/settings/api-keys');
    const body = new URLSearchParams({ _csrf: csrf, name: 'Website' });
    body.append('scopes', 'issues:read');
    const made = await s.client.post('/admin/settings/api-keys', body);
    expect(made.status).toBe(200);
    const html = await made.text();
    const text = /<span class="secret" id="new-key">(nlk_[A-Za-z0-9_-]{43})<\/span>/.exec(html)?.[1] ?? '';
    expect(text).not.toBe('');

    expect((await apiGet(s.app.url, text)).status).toBe(200);
    const listed = await (await s.client.get('/admin/settings/api-keys')).text();
    expect(listed).not.toContain(text);
    expect(listed).toContain(`${text.slice(0, 12)}…`);
    const [key] = await listApiKeys(s.services.db);
    expect(key?.lastUsedAt).not.toBeNull();
    expect(listed).not.toMatch(/<td>never<\/td>/);

    const revoked = await s.client.post(`/admin/settings/api-keys/${key?.id}/revoke`, { _csrf: csrf });
    expect(revoked.status).toBe(303);
    expect((await apiGet(s.app.url, text)).status).toBe(401);
    expect(await (await s.client.get('/admin/settings/api-keys')).text()).toMatch(/Revoked /);
  });

  it('says what is missing, and keeps editors out', async () => {
    s = await signedInEditor({ role: 'admin', withLongIssue: false });
    const csrf = await s.client.csrfToken('/admin/settings/api-keys');
    const noScope = await s.client.post('/admin/settings/api-keys', { _csrf: csrf, name: 'x' });
    expect(noScope.status).toBe(400);
    expect(await noScope.text()).toContain('Choose at least one scope.');
    await s.close();

    s = await signedInEditor({ role: 'editor', withLongIssue: false });
    expect((await s.client.get('/admin/settings/api-keys')).status).toBe(403);
  });
});
