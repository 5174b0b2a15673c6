import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempEnv } from '../helpers/temp-env.js';
import { addEditor, appUnderTest, Client, EDITOR_PASSWORD, startApp, type AppUnderTest } from './admin-helpers.js';
import { FAILURES_PER_ACCOUNT_AND_IP } from '../../editors/auth/login-limiter.js';
import { SESSION_COOKIE } from '../../editors/auth/session-store.js';

describe('admin sign-in over HTTP', () => {
  let t: AppUnderTest;

  beforeEach(async () => {
    t = await appUnderTest({ editors: [{ email: 'ed@example.org' }, { email: 'boss@example.org', role: 'admin' }] });
  });
  afterEach(() => t.close());

  it('is closed to the anonymous: pages redirect to sign-in, posts and JSON get 401', async () => {
    const anon = new Client(t.app.url);
    for (const path of ['/admin', '/admin/articles', '/admin/settings', '/admin/outbox']) {
      const res = await anon.get(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get('location')).toBe(`/admin/login?next=${encodeURIComponent(path)}`);
    }
    const post = await anon.post('/admin/articles', { title: 'x' });
    expect(post.status).toBe(401);
    const json = await anon.get('/admin/issues/x/send/status.json', { accept: 'application/json' });
    expect(json.status).toBe(401);
  });

  it('refuses a wrong password and signs in with the right one, with a hardened cookie', async () => {
    const client = new Client(t.app.url);
    const wrong = await client.login('ed@example.org', 'not the password');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('do not match');
    expect(client.cookies.has(SESSION_COOKIE)).toBe(false);

    const ok = await client.login('ED@example.org', EDITOR_PASSWORD);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/admin');
    const setCookie = ok.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? '';
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).not.toMatch(/Secure/i); // BASE_URL is http in this test
    // The database keeps only the SHA-256 of the cookie's id.
    const rows = await t.services.db.selectFrom('sessions').select('id_hash').execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.id_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.id_hash).not.toBe(client.cookies.get(SESSION_COOKIE));

    const home = await client.get('/admin');
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('ed@example.org');
  });

  it('slows guessing: after repeated failures even the right password is refused with 429', async () => {
    const client = new Client(t.app.url);
    for (let i = 0; i < FAILURES_PER_ACCOUNT_AND_IP; i++) {
      expect((await client.login('ed@example.org', `guess ${i}`)).status).toBe(401);
    }
    const locked = await client.login('ed@example.org', EDITOR_PASSWORD);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await locked.text()).toContain('Too many failed sign-ins');
    // Another account from the same address is not locked by this one's failures.
    expect((await new Client(t.app.url).login('boss@example.org', EDITOR_PASSWORD)).status).toBe(303);
  });

  it('refuses a sign-in post without its form token', async () => {
    const res = await new Client(t.app.url).post('/admin/login', {
      email: 'ed@example.org',
      password: EDITOR_PASSWORD,
    });
    expect(res.status).toBe(403);
  });

  it('refuses a state-changing post without the session CSRF token, and accepts it with one', async () => {
    const client = new Client(t.app.url);
    await client.login('ed@example.org', EDITOR_PASSWORD);
    const forged = await client.post('/admin/account/password', {
      current: EDITOR_PASSWORD,
      password: 'a new password 1',
      repeat: 'a new password 1',
    });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('security token');
    const token = await client.csrfToken('/admin/account');
    const other = new Client(t.app.url);
    await other.login('boss@example.org', EDITOR_PASSWORD);
    // A token from another session is refused too.
    const wrongSession = await other.post('/admin/account/password', {
      _csrf: token,
      current: EDITOR_PASSWORD,
      password: 'x'.repeat(12),
      repeat: 'x'.repeat(12),
    });
    expect(wrongSession.status).toBe(403);
    const ok = await client.post('/admin/account/password', {
      _csrf: token,
      current: EDITOR_PASSWORD,
      password: 'a new password 1',
      repeat: 'a new password 1',
    });
    expect(ok.status).toBe(303);
    expect((await new Client(t.app.url).login('ed@example.org', 'a new password 1')).status).toBe(303);
  });

  it('refuses an editor on admin-only pages and lets an admin in', async () => {
    const editor = new Client(t.app.url);
    await editor.login('ed@example.org', EDITOR_PASSWORD);
    for (const path of ['/admin/settings', '/admin/settings/editors', '/admin/settings/topics']) {
      expect((await editor.get(path)).status, path).toBe(403);
    }
    const token = await editor.csrfToken();
    const post = await editor.post('/admin/settings/editors', {
      _csrf: token,
      email: 'new@example.org',
      role: 'admin',
    });
    expect(post.status).toBe(403);
    expect(
      await t.services.db
        .selectFrom('editors')
        .select('email')
        .where('email', '=', 'new@example.org')
        .executeTakeFirst(),
    ).toBeUndefined();

    const admin = new Client(t.app.url);
    await admin.login('boss@example.org', EDITOR_PASSWORD);
    expect((await admin.get('/admin/settings')).status).toBe(200);
  });

  it('logs out: the session row is gone and the old cookie no longer works', async () => {
    const client = new Client(t.app.url);
    await client.login('ed@example.org', EDITOR_PASSWORD);
    const cookie = client.cookies.get(SESSION_COOKIE) ?? '';
    const token = await client.csrfToken();
    const out = await client.post('/admin/logout', { _csrf: token });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/admin/login?notice=signed-out');
    expect(await t.services.db.selectFrom('sessions').selectAll().execute()).toHaveLength(0);
    const replay = await fetch(`${t.app.url}/admin`, {
      redirect: 'manual',
      headers: { cookie: `${SESSION_COOKIE}=${cookie}`, accept: 'text/html' },
    });
    expect(replay.status).toBe(303);
  });
});

describe('admin sessions across a restart', () => {
  it('a session survives a new app on the same database file', async () => {
    const env = makeTempEnv();
    try {
      let services = await env.open();
      await addEditor(services, 'ed@example.org', EDITOR_PASSWORD);
      let app = await startApp(services);
      const client = new Client(app.url);
      expect((await client.login('ed@example.org', EDITOR_PASSWORD)).status).toBe(303);
      await app.close();
      await services.close();

      services = await env.open();
      app = await startApp(services);
      const again = new Client(app.url);
      again.cookies.set(SESSION_COOKIE, client.cookies.get(SESSION_COOKIE) ?? '');
      const res = await again.get('/admin');
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('ed@example.org');
      await app.close();
      await services.close();
    } finally {
      env.cleanup();
    }
  });

  it('marks the cookie Secure when BASE_URL is https', async () => {
    const t = await appUnderTest({
      env: { BASE_URL: 'https://news.example.org' },
      editors: [{ email: 'ed@example.org' }],
    });
    try {
      const res = await new Client(t.app.url).login('ed@example.org', EDITOR_PASSWORD);
      const setCookie = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? '';
      expect(setCookie).toMatch(/;\s*Secure/i);
    } finally {
      await t.close();
    }
  });
});
