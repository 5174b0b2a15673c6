import { afterEach, describe, expect, it } from 'vitest';
import { getTrackingSettings } from '../../../src/tracking/tracking-repository.js';
import { signedInEditor, type SignedIn } from '../admin-helpers.js';

// Settings → Tracking: admins choose the level and the opens switch; editors cannot.

let s: SignedIn | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe('Settings → Tracking', () => {
  it('shows the default (counts only, opens off) and saves an admin’s choice', async () => {
    s = await signedInEditor({ role: 'admin', withLongIssue: false });
    const page = await (await s.client.get('/admin/settings/tracking')).text();
    expect(page).toMatch(/<input type="radio" name="level" value="aggregate" checked>/);
    expect(page).toMatch(/<input type="checkbox" name="opens" value="on">/);
    const csrf = await s.client.csrfToken('/admin/settings/tracking');
    const saved = await s.client.post('/admin/settings/tracking', { _csrf: csrf, level: 'individual', opens: 'on' });
    expect(saved.status).toBe(303);
    expect(await getTrackingSettings(s.services.db)).toEqual({ level: 'individual', trackOpens: true });
    const off = await s.client.post('/admin/settings/tracking', { _csrf: csrf, level: 'off' });
    expect(off.status).toBe(303);
    expect(await getTrackingSettings(s.services.db)).toEqual({ level: 'off', trackOpens: false });
    const bad = await s.client.post('/admin/settings/tracking', { _csrf: csrf, level: 'everything' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Choose one of the tracking levels.');
    expect(await getTrackingSettings(s.services.db)).toEqual({ level: 'off', trackOpens: false });
  });

  it('is for admins only', async () => {
    s = await signedInEditor({ role: 'editor', withLongIssue: false });
    expect((await s.client.get('/admin/settings/tracking')).status).toBe(403);
    const csrf = await s.client.csrfToken('/admin');
    expect((await s.client.post('/admin/settings/tracking', { _csrf: csrf, level: 'individual' })).status).toBe(403);
    expect(await getTrackingSettings(s.services.db)).toEqual({ level: 'aggregate', trackOpens: false });
  });
});
