import { describe, expect, it } from 'vitest';
import { findSubscriberByEmail } from '../../subscribers/subscriber-repository.js';
import { signToken } from '../../subscribers/tokens.js';
import { Client, confirmedSubscriber, formFields, mainOf, useHarness } from './web-harness.js';

const h = useHarness();

describe('preferences page', () => {
  it('changes topics and name, unsubscribes and subscribes again, each logged', async () => {
    const { client, managePath } = await confirmedSubscriber(h, 'prefs@example.org', ['open-data']);
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
    const { client, managePath } = await confirmedSubscriber(h, 'guarded@example.org', ['open-data']);
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
      const res = await client.post(`/preferences?token=${token}`, { _csrf: csrf, action: 'erase' });
      expect(res.res.status, token).toBeGreaterThanOrEqual(400);
      expect(res.res.status, token).toBeLessThan(500);
      expect(mainOf(res.html)).toContain('Nothing has been changed');
    }
    const after = await findSubscriberByEmail(h.services.db, 'guarded@example.org');
    expect(after?.status).toBe('active');
    expect(after?.topicSlugs).toEqual(['open-data']);
  });
});
