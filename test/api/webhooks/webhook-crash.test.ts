import { afterEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../api/api-keys.js';
import { createEndpoint } from '../../../api/webhooks/webhook-endpoints.js';
import { eventsAfter } from '../../../src/db/event-outbox.js';
import { createSubscriber } from '../../../subscribers/subscriber-repository.js';
import { startChildServer } from '../../helpers/child-server.js';
import { makeTempEnv } from '../../helpers/temp-env.js';
import { startWebhookReceiver, verifiedByRecipe, verifiedWithLibrary } from './webhook-receiver.js';

// `newsletter serve` as a real child process relays webhook events; killed with SIGKILL while a
// delivery is in flight, and with events recorded while it is down, the next start delivers every
// event (the one in flight again, with the same webhook-id). The API answers while the receiver hangs.

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('webhooks across a crash (real child processes)', () => {
  it('loses no event to kill -9, and never makes the action wait for the receiver', async () => {
    const env = makeTempEnv({ WEBHOOK_TIMEOUT: '1', LOG_LEVEL: 'warn' });
    cleanups.push(() => env.cleanup());
    const services = await env.open();
    cleanups.push(() => services.close());
    const receiver = await startWebhookReceiver();
    cleanups.push(() => receiver.close());
    receiver.answer = () => 'hang';
    const endpoint = await createEndpoint(services.db, services.config.secretKey, {
      url: receiver.url,
      description: 'CRM',
      events: ['subscriber.created', 'subscriber.confirmed'],
      createdBy: 'test',
    });
    const key = (await createApiKey(services.db, { name: 'site', scopes: ['subscribers:write'], createdBy: 'test' }))
      .text;

    const first = await startChildServer(env.env);
    cleanups.push(() =>
      first.child.exitCode === null && first.child.signalCode === null ? first.stop('SIGKILL') : undefined,
    );
    const signup = await fetch(`${first.url}/api/v1/subscribers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.org', confirmed: true, consent: { source: 'shop checkout' } }),
    });
    expect(signup.status).toBe(201);
    // The delivery of that sign-up is now held open by the receiver: kill the server mid-request.
    await receiver.waitFor((r) => r.length === 1, 60_000);
    expect(receiver.received[0]?.payload.data.email).toBe('ada@example.org');
    expect(await first.stop('SIGKILL')).toBeNull();

    // Events recorded while no relay runs wait in the outbox.
    await createSubscriber(services.db, {
      email: 'bob@example.org',
      name: 'Bob',
      status: 'active',
      topicIds: [],
      action: 'subscribe',
      context: { source: 'cli' },
    });
    receiver.answer = () => 200;
    const second = await startChildServer(env.env);
    cleanups.push(() =>
      second.child.exitCode === null && second.child.signalCode === null ? second.stop() : undefined,
    );

    const events = await eventsAfter(services.db, 0, 100);
    const wanted = events.filter((e) => endpoint.events.includes(e.type)).map((e) => `evt_${e.id}`);
    expect(wanted).toHaveLength(2);
    // A server start and the dead claim's lease (2 s) on a loaded machine: a generous deadline.
    await receiver.waitFor((r) => wanted.every((id) => r.slice(1).some((hook) => hook.id === id)), 60_000);
    for (const hook of receiver.received) {
      expect(verifiedWithLibrary(endpoint.secret, hook)).toEqual(hook.payload);
      expect(verifiedByRecipe(endpoint.secret, hook)).toBe(true);
    }
    // The delivery in flight at the kill went again under the same id.
    expect(receiver.received.filter((h) => h.id === receiver.received[0]?.id).length).toBeGreaterThanOrEqual(2);
    expect(await second.stop()).toBe(0);
  });
});
