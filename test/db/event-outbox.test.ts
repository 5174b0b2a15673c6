import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import {
  eventsAfter,
  heardEventTypes,
  recordEvents,
  subscriberSubject,
  type OutboxEventType,
} from '../../src/db/event-outbox.js';
import { nowIso } from '../../src/db/database.js';
import { activateSubscriber, createSubscriber, withdrawSubscriber } from '../../subscribers/subscriber-repository.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// The outbox records an event only while an endpoint listens for its type: an endpoint hears only
// of events recorded after it was added, so any other event would reach no one (and keep personal
// data on disk for nothing). A real database (SQLite here, PostgreSQL in the postgres project).

let temp: TempEnv;
let services: Services;

beforeEach(async () => {
  temp = makeTempEnv();
  services = await temp.open();
});
afterEach(async () => {
  await services.close();
  temp.cleanup();
});

async function listenFor(...events: OutboxEventType[]): Promise<void> {
  await services.db
    .insertInto('webhook_endpoints')
    .values({
      url: 'https://hooks.example.org/newsletter',
      description: '',
      events: events.join(' '),
      secret: 'whsec_dGVzdA==',
      after_event_id: 0,
      created_by: 'test',
      created_at: nowIso(),
    })
    .execute();
}

const allEvents = () => eventsAfter(services.db, 0, 100);

describe('event outbox', () => {
  it('records nothing while no endpoint listens, and only the listened types once one does', async () => {
    expect(await heardEventTypes(services.db)).toEqual(new Set());
    const ann = await createSubscriber(services.db, {
      email: 'ann@example.org',
      name: 'Ann',
      status: 'pending',
      topicIds: [],
      action: 'subscribe',
      context: { source: 'form' },
    });
    expect(await activateSubscriber(services.db, ann.id, ['pending'], 'confirm', { source: 'form' })).toBe(true);
    expect(await allEvents()).toEqual([]);

    await listenFor('subscriber.unsubscribed', 'issue.sent');
    await listenFor('subscriber.unsubscribed');
    expect(await heardEventTypes(services.db)).toEqual(new Set(['subscriber.unsubscribed', 'issue.sent']));
    expect(await withdrawSubscriber(services.db, ann.id, 'unsubscribed', 'unsubscribe', { source: 'one-click' })).toBe(
      true,
    );
    await recordEvents(services.db, [
      { type: 'subscriber.updated', subject: subscriberSubject(ann.uid), data: {} },
      { type: 'issue.sent', subject: 'issue:n1', data: { slug: 'n1' } },
    ]);
    const events = await allEvents();
    expect(events.map((e) => [e.type, e.subject])).toEqual([
      ['subscriber.unsubscribed', subscriberSubject(ann.uid)],
      ['issue.sent', 'issue:n1'],
    ]);
    // The withdrawal's event carries the subscriber as they are after the change.
    expect(events[0]?.data).toMatchObject({ id: ann.uid, email: 'ann@example.org', status: 'unsubscribed' });
  });
});
