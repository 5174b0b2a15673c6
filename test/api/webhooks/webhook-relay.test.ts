import { afterEach, describe, expect, it } from 'vitest';
import { createEndpoint, newWebhookSecret } from '../../../api/webhooks/webhook-endpoints.js';
import { openWebhookSecret } from '../../../api/webhooks/webhook-secret.js';
import { WebhookRelay } from '../../../api/webhooks/webhook-relay.js';
import { insertEndpoint, recentDeliveries, type DeliveryRecord } from '../../../api/webhooks/webhook-repository.js';
import type { Services } from '../../../src/app/services.js';
import { createLogger } from '../../../src/log/logger.js';
import { erasedAddressHash } from '../../../subscribers/address.js';
import {
  activateSubscriber,
  createSubscriber,
  eraseSubscriber,
  markSubscriberUndeliverable,
  updateSubscriberProfile,
  withdrawSubscriber,
  type Subscriber,
} from '../../../subscribers/subscriber-repository.js';
import { eventually } from '../../helpers/eventually.js';
import { makeTempEnv } from '../../helpers/temp-env.js';
import { importLongIssue, LONG_ISSUE } from '../../fixtures/long-issue.js';
import { sendIssue } from '../../../scheduler/send-control.js';
import {
  startWebhookReceiver,
  verifiedByRecipe,
  verifiedWithLibrary,
  type ReceivedHook,
  type WebhookReceiver,
} from './webhook-receiver.js';

// The relay against a real loopback receiver and a real SQLite file: every event the subscriber
// repository records reaches the endpoints that want it, signed; failures are retried from the
// persisted queue; an erasure takes the person's queued events with it.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function setup(): Promise<{ services: Services; receiver: WebhookReceiver }> {
  const env = makeTempEnv();
  cleanups.push(() => env.cleanup());
  const services = await env.open();
  cleanups.push(() => services.close());
  const receiver = await startWebhookReceiver();
  cleanups.push(() => receiver.close());
  return { services, receiver };
}

function startRelay(services: Services, retryDelaysMs: number[] = [20, 20, 20]): WebhookRelay {
  const relay = new WebhookRelay({
    db: services.db,
    logger: createLogger('silent'),
    baseUrl: services.config.baseUrl,
    secretKey: services.config.secretKey,
    timeoutMs: 2000,
    retryDelaysMs,
    pollMs: 10,
  });
  relay.start();
  cleanups.push(() => relay.stop());
  return relay;
}

/** The endpoint's deliveries once `done` holds for them (the relay writes each answer after it arrives). */
function deliveriesWhen(
  db: Services['db'],
  endpointId: number,
  done: (deliveries: DeliveryRecord[]) => boolean,
): Promise<DeliveryRecord[]> {
  return eventually(`the deliveries to endpoint ${endpointId} to be done`, () => recentDeliveries(db, endpointId, 20), {
    holds: done,
    timeoutMs: 10_000,
    intervalMs: 5,
  });
}

const eventNumber = (id: string) => Number(id.replace(/^evt_/, ''));

const person = (email: string) => ({
  email,
  name: email.split('@')[0] ?? '',
  status: 'pending' as const,
  topicIds: [],
  action: 'signup',
  context: { source: 'form' as const },
});

describe('webhook relay', () => {
  it('delivers each event signed, to the endpoints that want it, from the moment they were added', async () => {
    const { services, receiver } = await setup();
    const { db } = services;
    // An event from before any endpoint existed reaches nobody.
    await createSubscriber(db, person('early@example.org'));
    const all = await createEndpoint(db, services.config.secretKey, {
      url: receiver.url,
      description: 'CRM',
      events: [
        'subscriber.created',
        'subscriber.confirmed',
        'subscriber.updated',
        'subscriber.unsubscribed',
        'subscriber.bounced',
        'subscriber.erased',
      ],
      createdBy: 'test',
    });
    const second = await startWebhookReceiver();
    cleanups.push(() => second.close());
    const onlyUnsubscribes = await createEndpoint(db, services.config.secretKey, {
      url: second.url,
      description: '',
      events: ['subscriber.unsubscribed'],
      createdBy: 'test',
    });

    const ada = await createSubscriber(db, person('ada@example.org'));
    expect(await activateSubscriber(db, ada.id, ['pending'], 'confirm', { source: 'form' })).toBe(true);
    expect(
      await updateSubscriberProfile(db, ada, { name: 'Ada L.' }, 'profile-changed', { source: 'preferences' }),
    ).toBe(true);
    expect(await withdrawSubscriber(db, ada.id, 'unsubscribed', 'unsubscribe', { source: 'one-click' })).toBe(true);
    const bob = await createSubscriber(db, { ...person('bob@example.org'), status: 'active' });
    expect(await markSubscriberUndeliverable(db, bob.id, 'bounced')).toBe(true);

    startRelay(services);
    await receiver.waitFor((r) => r.length === 6);
    await second.waitFor((r) => r.length === 1);

    // Deliveries run side by side, so they may arrive out of order; the ids increase with the events.
    const inOrder = receiver.received.slice().sort((a, b) => eventNumber(a.id) - eventNumber(b.id));
    expect(inOrder.map((r) => r.payload.type)).toEqual([
      'subscriber.created',
      'subscriber.confirmed',
      'subscriber.updated',
      'subscriber.unsubscribed',
      'subscriber.created',
      'subscriber.bounced',
    ]);
    for (const hook of receiver.received) {
      expect(verifiedWithLibrary(all.secret, hook)).toEqual(hook.payload);
      expect(verifiedByRecipe(all.secret, hook)).toBe(true);
      // The other endpoint's secret does not verify it: each endpoint signs with its own.
      expect(verifiedByRecipe(onlyUnsubscribes.secret, hook)).toBe(false);
    }
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(6);
    expect(receiver.received.map((r) => r.payload.data.email)).not.toContain('early@example.org');
    expect(inOrder[3]?.payload.data).toMatchObject({
      id: ada.uid,
      email: 'ada@example.org',
      name: 'Ada L.',
      status: 'unsubscribed',
    });
    expect(inOrder[3]?.payload.data).not.toHaveProperty('uid');

    const [unsubscribed] = second.received;
    expect(unsubscribed?.payload.type).toBe('subscriber.unsubscribed');
    expect(unsubscribed?.id).toBe(inOrder[3]?.id);
    expect(verifiedWithLibrary(onlyUnsubscribes.secret, unsubscribed as never)).toEqual(unsubscribed?.payload);

    const deliveries = await deliveriesWhen(db, all.id, (list) => list.every((d) => d.status === 'delivered'));
    expect(deliveries).toHaveLength(6);
    expect(deliveries.every((d) => d.status === 'delivered' && d.lastStatus === 204 && d.attempts === 1)).toBe(true);
  });

  it('retries a failing receiver with backoff until it recovers, and gives up after the schedule', async () => {
    const { services, receiver } = await setup();
    const { db } = services;
    const endpoint = await createEndpoint(db, services.config.secretKey, {
      url: receiver.url,
      description: '',
      events: ['subscriber.created'],
      createdBy: 't',
    });
    receiver.answer = (index) => (index < 2 ? 503 : 200);
    const ada: Subscriber = await createSubscriber(db, person('ada@example.org'));

    startRelay(services, [20, 20, 20]);
    await receiver.waitFor((r) => r.length === 3);
    const ids = receiver.received.map((r) => r.id);
    expect(new Set(ids).size).toBe(1);
    for (const hook of receiver.received) expect(verifiedByRecipe(endpoint.secret, hook)).toBe(true);
    expect(receiver.received[2]?.payload.data.id).toBe(ada.uid);
    const [record] = await deliveriesWhen(db, endpoint.id, ([d]) => d?.status === 'delivered');
    expect(record).toMatchObject({
      status: 'delivered',
      attempts: 3,
      lastStatus: 200,
      lastResponse: 'ok',
      lastError: null,
    });

    // Always refused: after the first attempt and one retry per delay, it is given up and says why.
    const dead = await startWebhookReceiver();
    cleanups.push(() => dead.close());
    dead.answer = () => 500;
    const refused = await createEndpoint(db, services.config.secretKey, {
      url: dead.url,
      description: '',
      events: ['subscriber.created'],
      createdBy: 't',
    });
    await createSubscriber(db, person('bob@example.org'));
    await dead.waitFor((r) => r.length === 4);
    const [failed] = await deliveriesWhen(db, refused.id, ([d]) => d?.status === 'failed');
    expect(failed).toMatchObject({
      status: 'failed',
      attempts: 4,
      lastStatus: 500,
      lastError: 'answered 500',
      lastResponse: 'refused with 500',
    });
  });

  it('drops the queued events of a person who is erased, and tells only their id', async () => {
    const { services, receiver } = await setup();
    const { db, config } = services;
    await createEndpoint(db, services.config.secretKey, {
      url: receiver.url,
      description: '',
      events: ['subscriber.created', 'subscriber.erased'],
      createdBy: 't',
    });
    const eve = await createSubscriber(db, person('eve@example.org'));
    const zoe = await createSubscriber(db, person('zoe@example.org'));
    await eraseSubscriber(db, eve.id, erasedAddressHash(config.secretKey, eve.email));

    startRelay(services);
    await receiver.waitFor((r) => r.length === 2);
    const inOrder = receiver.received.slice().sort((a, b) => eventNumber(a.id) - eventNumber(b.id));
    expect(inOrder.map((r) => [r.payload.type, r.payload.data.id])).toEqual([
      ['subscriber.created', zoe.uid],
      ['subscriber.erased', eve.uid],
    ]);
    expect(Object.keys(inOrder[1]?.payload.data ?? {}).sort()).toEqual(['erasedAt', 'id']);
    expect(receiver.received.map((r) => r.body).join('\n')).not.toContain('eve@example.org');
  });

  it('tells of an issue once its send has finished, with its address', async () => {
    const { services, receiver } = await setup();
    const { db } = services;
    const slug = await importLongIssue(services);
    await createSubscriber(db, { ...person('reader@example.org'), status: 'active' });
    const endpoint = await createEndpoint(db, services.config.secretKey, {
      url: receiver.url,
      description: '',
      events: ['issue.sent'],
      createdBy: 't',
    });
    startRelay(services);
    const report = await sendIssue(services, slug);
    expect(report.counts.sent).toBe(1);
    await receiver.waitFor((r) => r.length === 1);
    const [hook] = receiver.received;
    expect(hook?.payload).toMatchObject({
      type: 'issue.sent',
      data: { slug, title: LONG_ISSUE.title, url: `${services.config.baseUrl}/issues/${slug}` },
    });
    expect(Date.parse(String(hook?.payload.data.sentAt))).not.toBeNaN();
    expect(verifiedByRecipe(endpoint.secret, hook as ReceivedHook)).toBe(true);
  });

  it('stores each signing secret sealed, seals an older plain one when it starts, and names a key that cannot open one', async () => {
    const { services, receiver } = await setup();
    const { db } = services;
    const storedSecrets = async () =>
      (await db.selectFrom('webhook_endpoints').select('secret').orderBy('id').execute()).map((r) => r.secret);
    const sealed = await createEndpoint(db, services.config.secretKey, {
      url: receiver.url,
      description: 'sealed',
      events: ['subscriber.created'],
      createdBy: 't',
    });
    // What a copy of the database holds is not the secret, nor its key bytes.
    const [stored] = await storedSecrets();
    expect(stored).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(stored).not.toContain(sealed.secret.slice('whsec_'.length, 'whsec_'.length + 8));
    // An endpoint registered before secrets were sealed holds its secret as plain text.
    const plainSecret = newWebhookSecret();
    await insertEndpoint(db, {
      url: receiver.url,
      description: 'older',
      events: ['subscriber.created'],
      storedSecret: plainSecret,
      createdBy: 't',
      now: new Date().toISOString(),
    });

    const relay = startRelay(services);
    await createSubscriber(db, person('sealed@example.org'));
    await receiver.waitFor((r) => r.length === 2);
    const secrets = [sealed.secret, plainSecret];
    for (const hook of receiver.received) expect(secrets.filter((s) => verifiedByRecipe(s, hook))).toHaveLength(1);
    expect((await storedSecrets()).every((s) => s.startsWith('v1.'))).toBe(true);
    expect(openWebhookSecret(services.config.secretKey, (await storedSecrets())[1] ?? '')).toBe(plainSecret);

    // Another SECRET_KEY (changed without putting the old one back): each attempt fails and says why.
    // The service stops first: a relay with the right key still polling would deliver the event itself.
    await relay.stop();
    const otherKey = new WebhookRelay({
      db,
      logger: createLogger('silent'),
      baseUrl: services.config.baseUrl,
      secretKey: 'another-secret-key-of-at-least-32-characters',
      timeoutMs: 2000,
      retryDelaysMs: [],
    });
    await createSubscriber(db, person('other-key@example.org'));
    await otherKey.tick();
    const deliveries = await recentDeliveries(db, sealed.id, 20);
    expect(deliveries[0]).toMatchObject({
      status: 'failed',
      lastError: expect.stringContaining('cannot be read with this SECRET_KEY'),
    });
    expect(receiver.received).toHaveLength(2);
  });
});
