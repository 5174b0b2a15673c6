import type { Db } from '../src/db/database.js';
import type { ConsentContext } from './subscriber-repository.js';
import { erasedAddressHash, parseEmail } from './address.js';
import { cleanName, MAX_NAME_LENGTH } from './form-input.js';
import {
  activateSubscriber,
  createSubscriber,
  findSubscriberByEmail,
  isAddressErased,
  resolveTopicSlugs,
  updateSubscriberProfile,
  WITHDRAWN_STATUSES,
} from './subscriber-repository.js';

// An operator adds one subscriber directly (`newsletter subscribers add`): active at once, the
// operator vouches for the consent. Never overrides a withdrawal or an erasure.

export class AddSubscriberError extends Error {}

export interface AddSubscriberInput {
  email: string;
  name?: string;
  topics?: string[];
}

export type AddOutcome = 'added' | 'updated' | 'unchanged';

export async function addSubscriber(
  db: Db,
  secretKey: string,
  input: AddSubscriberInput,
  context: ConsentContext,
): Promise<{ outcome: AddOutcome; email: string }> {
  const email = parseEmail(input.email);
  if (!email) throw new AddSubscriberError(`"${input.email}" is not an email address; give one like name@example.org`);
  const name = input.name === undefined ? undefined : cleanName(input.name);
  if (name !== undefined && name.length > MAX_NAME_LENGTH) {
    throw new AddSubscriberError(`--name can be at most ${MAX_NAME_LENGTH} characters long`);
  }
  let topicIds: number[] | undefined;
  if (input.topics !== undefined) {
    const resolved = await resolveTopicSlugs(db, input.topics);
    if (resolved.unknown.length > 0) {
      throw new AddSubscriberError(
        `Unknown topic ${resolved.unknown.map((t) => `"${t}"`).join(', ')}. Topics: ${resolved.known.join(', ') || 'none yet (import an issue first)'}`,
      );
    }
    topicIds = resolved.ids;
  }

  return db.transaction().execute(async (trx) => {
    const existing = await findSubscriberByEmail(trx, email);
    if (!existing) {
      if (await isAddressErased(trx, erasedAddressHash(secretKey, email))) {
        throw new AddSubscriberError(
          `${email} was erased at the owner's request and cannot be added back; the owner can sign up again at /subscribe`,
        );
      }
      await createSubscriber(trx, {
        email,
        name: name ?? '',
        status: 'active',
        topicIds: topicIds ?? [],
        action: 'subscribe',
        context,
      });
      return { outcome: 'added' as const, email };
    }
    if (WITHDRAWN_STATUSES.includes(existing.status)) {
      throw new AddSubscriberError(
        `${email} is ${existing.status}${existing.unsubscribedAt ? ` since ${existing.unsubscribedAt.slice(0, 10)}` : ''}; it is not reactivated by an operator. The owner can sign up again at /subscribe`,
      );
    }
    const activated =
      existing.status === 'pending' && (await activateSubscriber(trx, existing.id, ['pending'], 'subscribe', context));
    const changed = await updateSubscriberProfile(trx, existing, { name, topicIds }, 'profile-changed', context);
    return { outcome: activated || changed ? ('updated' as const) : ('unchanged' as const), email };
  });
}
