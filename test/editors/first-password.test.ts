import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { ensureFirstAdmin, FIRST_ADMIN_EMAIL } from '../../editors/bootstrap.js';
import { findEditorByEmail } from '../../editors/editor-repository.js';
import type { TempEnv } from '../helpers/temp-env.js';
import { runCli } from '../helpers/cli.js';
import { appUnderTest, Client, type AppUnderTest, type RunningApp } from './admin-helpers.js';

// A one-time password (the first admin's, printed once; one Settings → Editors gave a new editor;
// `newsletter editors add --one-time`) opens only the page that replaces it, and stops working
// once the editor has chosen their own.

async function firstAdminPassword(services: Services): Promise<string> {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  await ensureFirstAdmin(services, stream);
  return /password: (\S+)/.exec(text)?.[1] ?? '';
}

/** 1 while the editor holds a one-time password (findEditorByEmail reads it from the stored hash). */
async function mustChange(services: Services, email: string): Promise<number | undefined> {
  const editor = await findEditorByEmail(services.db, email);
  return editor && (editor.mustChangePassword ? 1 : 0);
}

describe('a one-time password is replaced at the first sign-in', () => {
  let running: AppUnderTest;
  let env: TempEnv;
  let services: Services;
  let app: RunningApp;
  let oneTime = '';

  beforeAll(async () => {
    running = await appUnderTest({
      seed: async (s) => {
        oneTime = await firstAdminPassword(s);
      },
    });
    ({ env, services, app } = running);
  });
  afterAll(() => running.close());

  it('opens nothing but the password page until the first admin has chosen their own', async () => {
    const admin = new Client(app.url);
    expect((await admin.login(FIRST_ADMIN_EMAIL, oneTime)).status).toBe(303);
    for (const path of ['/admin', '/admin/articles', '/admin/settings/editors', '/admin/outbox']) {
      const res = await admin.get(path);
      expect({ path, status: res.status, to: res.headers.get('location') }).toEqual({
        path,
        status: 303,
        to: '/admin/account',
      });
    }
    const page = await (await admin.get('/admin/account')).text();
    expect(page).toContain('You signed in with a one-time password. Choose your own password now');
    const token = /<meta name="csrf-token" content="([^"]+)">/.exec(page)?.[1] ?? '';
    // An action elsewhere is refused, not run.
    const create = await admin.post('/admin/issues', { _csrf: token, slug: 'sneaky', title: 'Sneaky', period: 'Now' });
    expect(create.status).toBe(403);
    expect(await services.db.selectFrom('issues').select('slug').execute()).toEqual([]);
    expect(await (await admin.get('/admin/issues/status.json', { accept: 'application/json' })).text()).toContain(
      'Choose your own password first',
    );

    // The one-time password itself is not "your own".
    const same = await admin.post('/admin/account/password', {
      _csrf: token,
      current: oneTime,
      password: oneTime,
      repeat: oneTime,
    });
    expect(same.status).toBe(400);
    expect(await same.text()).toContain('Choose a new password of your own, not the one-time password.');
    expect(await mustChange(services, FIRST_ADMIN_EMAIL)).toBe(1);

    const set = await admin.post('/admin/account/password', {
      _csrf: token,
      current: oneTime,
      password: 'my own password, at last',
      repeat: 'my own password, at last',
    });
    expect(set.status).toBe(303);
    expect(set.headers.get('location')).toBe('/admin?notice=password-chosen');
    expect(await mustChange(services, FIRST_ADMIN_EMAIL)).toBe(0);
    const home = await admin.get('/admin?notice=password-chosen');
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('the one-time password no longer works');

    const again = new Client(app.url);
    expect((await again.login(FIRST_ADMIN_EMAIL, oneTime)).status).toBe(401);
    expect((await again.login(FIRST_ADMIN_EMAIL, 'my own password, at last')).status).toBe(303);
    expect((await again.get('/admin')).status).toBe(200);
  });

  it('gives an editor invited in Settings → Editors a one-time password too', async () => {
    const admin = new Client(app.url);
    await admin.login(FIRST_ADMIN_EMAIL, 'my own password, at last');
    const token = await admin.csrfToken('/admin/settings/editors');
    const invited = await (
      await admin.post('/admin/settings/editors', { _csrf: token, email: 'new@example.org', role: 'editor' })
    ).text();
    expect(invited).toContain('At their first sign-in they choose their own');
    const password = /<span class="secret">([^<]+)<\/span>/.exec(invited)?.[1] ?? '';
    expect(await mustChange(services, 'new@example.org')).toBe(1);
    const editor = new Client(app.url);
    await editor.login('new@example.org', password);
    expect((await editor.get('/admin/articles')).headers.get('location')).toBe('/admin/account');
  });

  it('lets the command line say whether the password it sets is one-time', async () => {
    expect((await runCli(['editors', 'add', 'own@example.org'], env.env, 'a password I chose\n')).code).toBe(0);
    expect(
      (await runCli(['editors', 'add', 'temp@example.org', '--one-time'], env.env, 'a password to pass on\n')).code,
    ).toBe(0);
    expect(await mustChange(services, 'own@example.org')).toBe(0);
    expect(await mustChange(services, 'temp@example.org')).toBe(1);
    expect(
      (await runCli(['editors', 'passwd', 'own@example.org', '--one-time'], env.env, 'reset by the office\n')).code,
    ).toBe(0);
    expect(await mustChange(services, 'own@example.org')).toBe(1);
  });
});
