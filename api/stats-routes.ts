import { z } from 'zod';
import { listTopics, UnknownIssueError } from '../src/content/content-repository.js';
import { getTrackingSettings, trackedIssues } from '../src/tracking/tracking-repository.js';
import { notFound } from './problem.js';
import { slugParams } from './schemas.js';
import { issueClickReport } from './reports/click-report.js';
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

const clickIssues = defineRoute({
  method: 'get',
  path: '/stats/clicks',
  operationId: 'listClickStats',
  summary: 'Issues sent with click tracking, with their readers’ and machines’ clicks',
  tag: TAG,
  scope: 'stats:read',
  responses: {
    200: {
      description: 'Totals per issue, newest first',
      schema: z
        .object({
          level: z.enum(['off', 'aggregate', 'individual']).meta({ description: 'The tracking level now' }),
          issues: z.array(
            z.object({
              slug: z.string(),
              title: z.string(),
              sentAt: z.string().nullable(),
              clicks: z.int().meta({ description: 'Readers’ clicks' }),
              machineClicks: z.int().meta({ description: 'Scanners, prefetchers, link previews' }),
            }),
          ),
        })
        .meta({ id: 'ClickIssues' }),
    },
  },
  async handler(ctx) {
    const { db } = ctx.services;
    return { status: 200, body: { level: (await getTrackingSettings(db)).level, issues: await trackedIssues(db) } };
  },
});

const issueClicks = defineRoute({
  method: 'get',
  path: '/stats/clicks/{slug}',
  operationId: 'getIssueClickStats',
  summary: 'Clicks of one issue: per article, per topic, edition by edition, and per 100 readers of each topic',
  description:
    'The numbers of the issue’s click report. Counts only: never a reader. `clicks` are readers’ clicks; ' +
    'machines (security scanners, link previews, image proxies) are counted apart.',
  tag: TAG,
  scope: 'stats:read',
  params: slugParams,
  responses: {
    200: {
      description: 'Counts',
      schema: z
        .object({
          issue: z.object({ slug: z.string(), title: z.string(), sentAt: z.string().nullable() }),
          editions: z.array(
            z.object({
              key: z.string().meta({ description: '`*` = the whole issue, else the topics joined by commas' }),
              topics: z.array(z.string()),
              sent: z.int(),
              clicks: z.int(),
              machineClicks: z.int(),
              opens: z.int(),
              machineOpens: z.int(),
            }),
          ),
          articles: z.array(
            z.object({
              id: z.int(),
              title: z.string(),
              topics: z.array(z.string()),
              clicks: z.int(),
              byEdition: z.record(z.string(), z.int()),
            }),
          ),
          topics: z.array(
            z.object({
              slug: z.string(),
              name: z.string(),
              articleClicks: z.int(),
              readers: z.int(),
              readerClicks: z.int(),
              clicksPer100Readers: z.number(),
            }),
          ),
          otherClicks: z.int(),
        })
        .meta({ id: 'IssueClicks' }),
    },
    404: { description: 'No such issue' },
  },
  async handler(ctx, { params }) {
    try {
      return { status: 200, body: await issueClickReport(ctx.services.db, params.slug) };
    } catch (error) {
      if (error instanceof UnknownIssueError) throw notFound(`Issue "${params.slug}"`);
      throw error;
    }
  },
});

export const statsRoutes: ApiRoute[] = [subscriberStats, topicTrends, clickIssues, issueClicks];
