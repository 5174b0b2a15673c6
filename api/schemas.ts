import { z } from 'zod';
import 'zod-openapi';
import { publicSubscriber, type Subscriber } from '../subscribers/subscriber-repository.js';

// Shapes the API answers with, shared by handlers (which build them) and the OpenAPI document.

const time = z.iso.datetime();

export const subscriberStatusSchema = z.enum(['pending', 'active', 'unsubscribed', 'bounced', 'complained']);

export const subscriberSchema = z
  .object({
    id: z.string().meta({ description: "The subscriber's public id (random; never the address)" }),
    email: z.email(),
    name: z.string(),
    status: subscriberStatusSchema,
    topics: z.array(z.string()).meta({ description: 'Chosen topic slugs; empty = every topic' }),
    createdAt: time,
    confirmedAt: time.nullable(),
    unsubscribedAt: time.nullable(),
    updatedAt: time,
  })
  .meta({ id: 'Subscriber' });

export type ApiSubscriber = z.infer<typeof subscriberSchema>;

/** The subscriber as the API shows it: the same picture the webhooks' events carry. */
export const toApiSubscriber = (s: Subscriber): ApiSubscriber => publicSubscriber(s);

export const subscriberPageSchema = z
  .object({
    data: z.array(subscriberSchema),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }),
  })
  .meta({ id: 'SubscriberPage' });

export const issueStatusSchema = z.enum(['draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled']);

export const deliveryCountsSchema = z
  .object({
    planned: z.int(),
    pending: z.int(),
    sending: z.int(),
    sent: z.int(),
    skipped: z.int(),
    failed: z.int(),
  })
  .meta({ id: 'DeliveryCounts' });

export const issueSummarySchema = z
  .object({
    slug: z.string(),
    title: z.string(),
    edition: z.string(),
    period: z.string(),
    status: issueStatusSchema,
    sendAt: time.nullable(),
    startedAt: time.nullable(),
    sentAt: time.nullable(),
  })
  .meta({ id: 'IssueSummary' });

export const issueStatusReportSchema = z
  .object({
    slug: z.string(),
    title: z.string(),
    status: issueStatusSchema,
    sendAt: time.nullable(),
    startedAt: time.nullable(),
    sentAt: time.nullable(),
    pauseReason: z.string().nullable(),
    counts: deliveryCountsSchema,
  })
  .meta({ id: 'IssueStatus' });

export const articleSchema = z
  .object({
    id: z.string().meta({ description: "The article's slug" }),
    title: z.string(),
    section: z.string().meta({ description: 'Section (topic) name' }),
    topics: z.array(z.string()).meta({ description: 'Slugs of every topic the article carries, its section first' }),
    tags: z.array(z.string()),
    takeaway: z.string().nullable(),
    sources: z.array(z.object({ url: z.string(), label: z.string() })),
    body: z.string().meta({ description: 'Markdown' }),
    updatedAt: time,
  })
  .meta({ id: 'Article' });

export const importResultSchema = z
  .object({
    slug: z.string(),
    articles: z.int(),
    topics: z.int(),
    corrected: z.boolean(),
    keptBySentIssues: z.array(z.object({ article: z.string(), issues: z.array(z.string()) })),
  })
  .meta({ id: 'ImportResult' });

export const slugParams = z.object({
  slug: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'a slug holds only a-z, 0-9 and -')
    .meta({ param: { description: 'Slug' } }),
});
