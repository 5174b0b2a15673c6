import type { Db } from '../../src/db/database.js';
import { createSubscriber, resolveTopicSlugs, type Subscriber } from '../../subscribers/subscriber-repository.js';

/**
 * What the sign-up form writes for a new address (subscribers/signup.ts): the subscriber's own
 * choice of name and topics, consent source `form`; `active` stands for a confirmed sign-up.
 */
export async function signedUpThroughForm(
  db: Db,
  input: { email: string; name: string; topics: string[]; status?: 'pending' | 'active' },
): Promise<Subscriber> {
  return createSubscriber(db, {
    email: input.email,
    name: input.name,
    status: input.status ?? 'active',
    topicIds: (await resolveTopicSlugs(db, input.topics)).ids,
    action: 'signup',
    context: { source: 'form' },
  });
}
