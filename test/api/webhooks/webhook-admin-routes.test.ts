import { afterEach, describe, expect, it } from 'vitest';
import { WebhookRelay } from '../../../api/webhooks/webhook-relay.js';
import { recentDeliveries } from '../../../api/webhooks/webhook-repository.js';
import { createLogger } from '../../../src/log/logger.js';
import { createSubscriber } from '../../../subscribers/subscriber-repository.js';
import { signedInEditor, type SignedIn } from '../../editors/admin-helpers.js';
import { eventually } from '../../helpers/eventually.js';
import { startWebhookReceiver, verifiedByRecipe, type WebhookReceiver } from './webhook-receiver.js';

// Settings → Webhooks: an admin adds an endpoint (secret shown once), sees its deliveries with the
// receiver's last answer, removes it; editors cannot open the page.

let s: SignedIn | undefined;
let receiver: WebhookReceiver | undefined;
let relay: WebhookRelay | undefined;
afterEach(async () => {
  await relay?.stop();
  await receiver?.close();
  await s?.close();
  s = relay = receiver = undefined;
});

describe('webhooks in the app', () => {
  it('lets an admin add an endpoint, see each delivery with its last answer, and remove it', async () => {
    s = await signedInEditor({ role: 'admin', withLongIssue: false });
    receiver = await startWebhookReceiver();
    receiver.answer = () => 503;
    const csrf = await s.client.csrfToken('/admin/settings/webhooks');
    const body = new URLSearchParams({ _csrf: csrf, url: receiver.url, description: 'Our CRM' });
    body.append('events', 'subscriber.created');
    const added = await s.client.post('/admin/settings/webhooks', body);
    expect(added.status).toBe(200);
    const secret = /<span class="secret" id="new-secret">(whsec_[A-Za-z0-9+/=]+)<\/span>/.exec(await added.text())?.[1];
    expect(secret).toBeDefined();

    await createSubscriber(s.services.db, {
      email: 'ada@example.org',
      name: 'Ada',
      status: 'pending',
      topicIds: [],
      action: 'signup',
      context: { source: 'form' },
    });
    relay = new WebhookRelay({
      db: s.services.db,
      logger: createLogger('silent'),
      baseUrl: s.services.config.baseUrl,
      secretKey: s.services.config.secretKey,
      timeoutMs: 2000,
      retryDelaysMs: [3_600_000],
      pollMs: 10,
    });
    relay.start();
    await receiver.waitFor((r) => r.length === 1);
    const [hook] = receiver.received;
    expect(verifiedByRecipe(secret ?? '', hook as never)).toBe(true);
    const { db } = s.services;
    await eventually('the refused delivery to be recorded', () => recentDeliveries(db, 1, 1), {
      holds: ([last]) => last?.lastStatus === 503,
      timeoutMs: 10_000,
      intervalMs: 5,
    });

    const page = await (await s.client.get('/admin/settings/webhooks')).text();
    expect(page).not.toContain(secret);
    expect(page).toContain(receiver.url);
    expect(page).toContain('Our CRM');
    expect(page).toMatch(/<code>subscriber\.created<\/code> <span class="hint">evt_\d+<\/span>/);
    expect(page).toContain('HTTP 503');
    expect(page).toContain('refused with 503');
    expect(page).toContain('Delivered 0, waiting 1, given up 0');

    const removed = await s.client.post('/admin/settings/webhooks/1/remove', { _csrf: csrf });
    expect(removed.status).toBe(303);
    expect(await (await s.client.get('/admin/settings/webhooks')).text()).toContain('No webhooks yet.');
  });

  it('says what is missing, and keeps editors out', async () => {
    s = await signedInEditor({ role: 'admin', withLongIssue: false });
    const csrf = await s.client.csrfToken('/admin/settings/webhooks');
    const noEvents = await s.client.post('/admin/settings/webhooks', { _csrf: csrf, url: 'https://crm.example.org/h' });
    expect(noEvents.status).toBe(400);
    expect(await noEvents.text()).toContain('Choose at least one event.');
    const badUrl = new URLSearchParams({ _csrf: csrf, url: 'javascript:alert(1)' });
    badUrl.append('events', 'issue.sent');
    const refused = await s.client.post('/admin/settings/webhooks', badUrl);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('Give the full address');
    await s.close();

    s = await signedInEditor({ role: 'editor', withLongIssue: false });
    expect((await s.client.get('/admin/settings/webhooks')).status).toBe(403);
  });
});
