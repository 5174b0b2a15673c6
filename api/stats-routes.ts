import { z } from 'zod';
import { listTopics } from '../src/content/content-repository.js';
import { countActiveByTopic } from '../subscribers/subscriber-listing.js';
import { countSubscribersByStatus } from '../subscribers/subscriber-repository.js';
import { defineRoute, type ApiRoute } from './route.js';
import { topicReport } from './reports/topic-report.js';

// /api/v1/stats: counts only, never a person.

const TAG = 'Stats';

const subscriberStats = defineRoute({
  method: 'get',
  path: '/stats/subscribers',
  operationId: 'getSubscriberStats',
  summary: 'Subscribers by status, and active subscribers per topic',
  tag: TAG,
  scope: 'stats:read',
  responses: {
    200: {
      description: 'Counts',
      schema: z
        .object({
          byStatus: z.record(z.string(), z.int()),
          topics: z.array(
            z.object({
              slug: z.string(),
              name: z.string(),
              receiving: z.int().meta({ description: 'Active subscribers whose edition holds the topic' }),
              chosen: z.int().meta({ description: 'Active subscribers who chose the topic themselves' }),
            }),
          ),
        })
        .meta({ id: 'SubscriberStats' }),
    },
  },
  async handler(ctx) {
    const { db } = ctx.services;
    const byStatus = await countSubscribersByStatus(db);
    const [active, topics] = await Promise.all([countActiveByTopic(db, byStatus.active), listTopics(db)]);
    return {
      status: 200,
      body: {
        byStatus,
        topics: topics.map((t) => {
          const chosen = active.byTopic.get(t.id) ?? 0;
          return { slug: t.slug, name: t.name, chosen, receiving: chosen + active.noTopic };
        }),
      },
    };
  },
});

const topicTrends = defineRoute({
  method: 'get',
  path: '/stats/topics',
  operationId: 'getTopicTrends',
  summary: 'Subscribers per topic, month by month: joined, left, subscribed at the month end',
  description:
    'The numbers of the Reports page. People count under the topics they hold now; `*` stands for those who ' +
    'chose no topic (they receive every topic). Sign-ups never confirmed and erased people are in no count.',
  tag: TAG,
  scope: 'stats:read',
  query: z.object({ months: z.coerce.number().int().min(1).max(36).default(12) }),
  responses: {
    200: {
      description: 'Counts per topic and month',
      schema: z
        .object({
          months: z.array(z.string().meta({ description: 'YYYY-MM' })),
          topics: z.array(
            z.object({
              slug: z.string(),
              name: z.string(),
              joined: z.array(z.int()),
              left: z.array(z.int()),
              subscribed: z.array(z.int()),
            }),
          ),
        })
        .meta({ id: 'TopicTrends' }),
    },
  },
  async handler(ctx, { query }) {
    return { status: 200, body: await topicReport(ctx.services.db, { now: new Date(), months: query.months }) };
  },
});

export const statsRoutes: ApiRoute[] = [subscriberStats, topicTrends];
