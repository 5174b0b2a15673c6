import { z } from 'zod';
import { erasedAddressHash, parseEmail } from '../subscribers/address.js';
import { cleanName, MAX_NAME_LENGTH } from '../subscribers/form-input.js';
import { registerSignup } from '../subscribers/signup.js';
import { listSubscriberPage } from '../subscribers/subscriber-listing.js';
import {
  activateSubscriber,
  createSubscriber,
  eraseSubscriber,
  findSubscriberByEmail,
  findSubscriberByUid,
  isAddressErased,
  resolveTopicSlugs,
  updateSubscriberProfile,
  withdrawSubscriber,
  WITHDRAWN_STATUSES,
  type ConsentContext,
  type Subscriber,
} from '../subscribers/subscriber-repository.js';
import type { ApiKey } from './api-key-repository.js';
import type { ApiContext } from './context.js';
import { conflict, notFound, validationProblem } from './problem.js';
import { defineRoute, type ApiRoute } from './route.js';
import { subscriberPageSchema, subscriberSchema, subscriberStatusSchema, toApiSubscriber } from './schemas.js';

// /api/v1/subscribers: list, get, create (double opt-in unless consent is vouched for), update,
// unsubscribe, erase. The same repository functions and consent log as the pages and the CLI.

const TAG = 'Subscribers';
const MAX_PAGE = 200;

const idParams = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,64}$/, 'a subscriber id is 8 to 64 characters of A-Z, a-z, 0-9, _ and -')
    .meta({ param: { description: "The subscriber's public id" } }),
});

const topicSlugs = z.array(z.string().min(1).max(200)).max(200);
const nameField = z.string().max(MAX_NAME_LENGTH * 2);

/** Consent context of an API call: the calling key in the detail, the person's own IP when vouched. */
function apiContext(key: ApiKey, person?: { ip?: string; userAgent?: string }): ConsentContext {
  return { source: 'api', ip: person?.ip ?? null, userAgent: person?.userAgent ?? `API key "${key.name}"` };
}

async function requireSubscriber(ctx: ApiContext, uid: string): Promise<Subscriber> {
  const subscriber = await findSubscriberByUid(ctx.services.db, uid);
  if (!subscriber) throw notFound(`Subscriber ${uid}`);
  return subscriber;
}

async function topicIds(ctx: ApiContext, slugs: string[] | undefined): Promise<number[] | undefined> {
  if (slugs === undefined) return undefined;
  const resolved = await resolveTopicSlugs(ctx.services.db, slugs);
  if (resolved.unknown.length > 0) {
    throw validationProblem([
      {
        field: 'body.topics',
        message: `unknown topic ${resolved.unknown.map((t) => `"${t}"`).join(', ')}; topics are ${resolved.known.join(', ') || 'none yet'}`,
      },
    ]);
  }
  return resolved.ids;
}

function checkedName(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const name = cleanName(raw);
  if (name.length > MAX_NAME_LENGTH) {
    throw validationProblem([{ field: 'body.name', message: `at most ${MAX_NAME_LENGTH} characters` }]);
  }
  return name;
}

const listSubscribers = defineRoute({
  method: 'get',
  path: '/subscribers',
  operationId: 'listSubscribers',
  summary: 'List subscribers, newest first, a page at a time',
  description:
    "Keyset pagination (the same as the app's list): pass `nextCursor` as `cursor` for the next (older) page; " +
    'a page is stable while subscribers are added or removed.',
  tag: TAG,
  scope: 'subscribers:read',
  query: z.object({
    status: subscriberStatusSchema.optional(),
    topic: z.string().min(1).max(200).optional().meta({
      description:
        'Only subscribers who chose this topic (a slug); `*` = those who chose none (they receive every topic)',
    }),
    q: z.string().min(1).max(200).optional().meta({ description: 'Part of the address or of the name, any case' }),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,24}$/, 'use the nextCursor of the previous page')
      .optional(),
  }),
  responses: { 200: { description: 'A page of subscribers', schema: subscriberPageSchema } },
  async handler(ctx, { query }) {
    const olderThan =
      query.cursor === undefined ? undefined : Number(Buffer.from(query.cursor, 'base64url').toString());
    if (olderThan !== undefined && !(Number.isSafeInteger(olderThan) && olderThan > 0)) {
      throw validationProblem([{ field: 'query.cursor', message: 'use the nextCursor of the previous page' }]);
    }
    const page = await listSubscriberPage(
      ctx.services.db,
      { status: query.status, topic: query.topic, q: query.q },
      olderThan === undefined ? null : { olderThan },
      query.limit,
    );
    const nextCursor =
      page.older && 'olderThan' in page.older ? Buffer.from(String(page.older.olderThan)).toString('base64url') : null;
    return { status: 200, body: { data: page.subscribers.map(toApiSubscriber), nextCursor } };
  },
});

const getSubscriber = defineRoute({
  method: 'get',
  path: '/subscribers/{id}',
  operationId: 'getSubscriber',
  summary: 'One subscriber',
  tag: TAG,
  scope: 'subscribers:read',
  params: idParams,
  responses: { 200: { description: 'The subscriber', schema: subscriberSchema }, 404: { description: 'No such id' } },
  async handler(ctx, { params }) {
    return { status: 200, body: toApiSubscriber(await requireSubscriber(ctx, params.id)) };
  },
});

const createBody = z
  .object({
    email: z.string().max(320),
    name: nameField.optional(),
    topics: topicSlugs.optional().meta({ description: 'Topic slugs; omitted or empty = every topic' }),
    confirmed: z
      .boolean()
      .default(false)
      .meta({
        description:
          'false (default): the person gets a confirmation mail and is active once they follow it (double opt-in). ' +
          'true: active at once, allowed only with `consent` saying where the person agreed.',
      }),
    consent: z
      .object({
        source: z.string().trim().min(3).max(300).meta({
          description: 'Where and how the person agreed, e.g. "checkout opt-in box on shop.example.org"',
        }),
        givenAt: z.iso.datetime({ offset: true }).optional(),
        ip: z.union([z.ipv4(), z.ipv6()]).optional().meta({ description: "The person's IP address when they agreed" }),
        userAgent: z.string().max(400).optional(),
      })
      .optional(),
  })
  .refine((b) => !b.confirmed || b.consent !== undefined, {
    path: ['consent'],
    message: 'is required when confirmed is true: say where the person gave their consent',
  })
  .meta({ id: 'NewSubscriber' });

const createSubscriberRoute = defineRoute({
  method: 'post',
  path: '/subscribers',
  operationId: 'createSubscriber',
  summary: 'Sign a person up',
  description:
    'Double opt-in by default: the subscriber is `pending` and receives the confirmation mail. An address ' +
    'that had withdrawn gets a new confirmation mail and stays withdrawn until its owner confirms (202). ' +
    'An erased or withdrawn address is never made active by `confirmed: true`.',
  tag: TAG,
  scope: 'subscribers:write',
  body: createBody,
  responses: {
    201: { description: 'Created (pending, or active with vouched consent)', schema: subscriberSchema },
    200: {
      description:
        'A pending sign-up: the choice is updated and the confirmation mail sent again; with `confirmed: true`, ' +
        'confirmed (its name and topics kept unless given)',
      schema: subscriberSchema,
    },
    202: { description: 'A withdrawn address: a confirmation mail was sent to its owner', schema: subscriberSchema },
    409: { description: 'The address is already subscribed, or cannot be activated without its owner' },
  },
  async handler(ctx, { body, key, req }) {
    const { db, config } = ctx.services;
    const email = parseEmail(body.email);
    if (!email) throw validationProblem([{ field: 'body.email', message: 'not an email address (name@example.org)' }]);
    const name = checkedName(body.name) ?? '';
    const ids = (await topicIds(ctx, body.topics)) ?? [];
    const slugs = body.topics ?? [];
    const existing = await findSubscriberByEmail(db, email);
    const location = (s: Subscriber) => ({ Location: `/api/v1/subscribers/${s.uid}` });

    if (!body.confirmed) {
      if (existing?.status === 'active') {
        throw conflict(`${email} is already subscribed`, { subscriber: existing.uid });
      }
      await registerSignup(
        ctx.signup,
        { ...apiContext(key), ip: req.ip ?? null },
        { email, name, topicIds: ids, topicSlugs: slugs },
      );
      const after = await findSubscriberByEmail(db, email);
      if (!after) throw new Error('sign-up left no subscriber');
      const status = !existing ? 201 : existing.status === 'pending' ? 200 : 202;
      return { status, body: toApiSubscriber(after), headers: location(after) };
    }

    const consent = body.consent;
    const context = apiContext(key, consent);
    const detail = JSON.stringify({ apiKey: key.name, consent: consent?.source, givenAt: consent?.givenAt ?? null });
    if (!existing) {
      if (await isAddressErased(db, erasedAddressHash(config.secretKey, email))) {
        throw conflict(
          `${email} was erased at its owner's request; only its owner can sign up again (confirmed: false)`,
        );
      }
      const created = await createSubscriber(db, {
        email,
        name,
        status: 'active',
        topicIds: ids,
        action: 'subscribe',
        context,
        detail,
      });
      return { status: 201, body: toApiSubscriber(created), headers: location(created) };
    }
    if (existing.status === 'active') throw conflict(`${email} is already subscribed`, { subscriber: existing.uid });
    if (WITHDRAWN_STATUSES.includes(existing.status)) {
      throw conflict(
        `${email} is ${existing.status}; only its owner can come back: send confirmed: false to mail them a confirmation link`,
        { subscriber: existing.uid },
      );
    }
    // A pending sign-up confirmed on its owner's behalf: logged as a confirmation (as a CSV row
    // with consent is); the name and topics they chose stay unless the caller gives new ones.
    await db.transaction().execute(async (trx) => {
      await activateSubscriber(trx, existing.id, ['pending'], 'confirm', context, detail);
      const change = { name: body.name === undefined ? undefined : name, topicIds: body.topics && ids };
      if (change.name !== undefined || change.topicIds !== undefined)
        await updateSubscriberProfile(trx, existing, change, 'profile-changed', context);
    });
    const updated = await requireSubscriber(ctx, existing.uid);
    return { status: 200, body: toApiSubscriber(updated), headers: location(updated) };
  },
});

const updateSubscriber = defineRoute({
  method: 'patch',
  path: '/subscribers/{id}',
  operationId: 'updateSubscriber',
  summary: "Change a subscriber's name or topics",
  tag: TAG,
  scope: 'subscribers:write',
  params: idParams,
  body: z
    .object({ name: nameField.optional(), topics: topicSlugs.optional() })
    .refine((b) => b.name !== undefined || b.topics !== undefined, { message: 'give name, topics or both' })
    .meta({ id: 'SubscriberChange' }),
  responses: {
    200: { description: 'The subscriber as changed', schema: subscriberSchema },
    404: { description: 'No such id' },
  },
  async handler(ctx, { params, body, key }) {
    const subscriber = await requireSubscriber(ctx, params.id);
    await updateSubscriberProfile(
      ctx.services.db,
      subscriber,
      { name: checkedName(body.name), topicIds: await topicIds(ctx, body.topics) },
      'profile-changed',
      apiContext(key),
    );
    return { status: 200, body: toApiSubscriber(await requireSubscriber(ctx, params.id)) };
  },
});

const unsubscribe = defineRoute({
  method: 'post',
  path: '/subscribers/{id}/unsubscribe',
  operationId: 'unsubscribeSubscriber',
  summary: 'Unsubscribe (no more mail; the record stays)',
  tag: TAG,
  scope: 'subscribers:write',
  params: idParams,
  responses: {
    200: { description: 'The subscriber, withdrawn', schema: subscriberSchema },
    404: { description: 'No such id' },
  },
  async handler(ctx, { params, key }) {
    const subscriber = await requireSubscriber(ctx, params.id);
    await withdrawSubscriber(ctx.services.db, subscriber.id, 'unsubscribed', 'unsubscribe', apiContext(key));
    return { status: 200, body: toApiSubscriber(await requireSubscriber(ctx, params.id)) };
  },
});

const erase = defineRoute({
  method: 'delete',
  path: '/subscribers/{id}',
  operationId: 'eraseSubscriber',
  summary: 'Erase everything held about a subscriber',
  description: 'Only a keyed hash of the address stays, so an import cannot add it back.',
  tag: TAG,
  scope: 'subscribers:write',
  params: idParams,
  responses: { 204: { description: 'Erased' }, 404: { description: 'No such id' } },
  async handler(ctx, { params }) {
    const subscriber = await requireSubscriber(ctx, params.id);
    const { db, config } = ctx.services;
    await eraseSubscriber(db, subscriber.id, erasedAddressHash(config.secretKey, subscriber.email));
    return { status: 204 };
  },
});

export const subscriberRoutes: ApiRoute[] = [
  listSubscribers,
  getSubscriber,
  createSubscriberRoute,
  updateSubscriber,
  unsubscribe,
  erase,
];
