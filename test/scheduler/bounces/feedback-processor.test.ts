import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../../src/app/services.js';
import { nowIso } from '../../../src/db/database.js';
import type { IssueStatus } from '../../../src/db/schema.js';
import { createFeedbackProcessor } from '../../../scheduler/bounces/bounce-intake.js';
import {
  pauseReason,
  type FeedbackProcessor,
  type FeedbackReport,
} from '../../../scheduler/bounces/feedback-processor.js';
import { MessageBuilder } from '../../../scheduler/message-builder.js';
import { makeTempEnv, type TempEnv } from '../../helpers/temp-env.js';
import { insertSubscribers } from '../fixtures.js';
import { feedbackRows, subscriberState } from './bounce-harness.js';

/** Issues as rows, each with a `sent` delivery to each subscriber, in issue order. */
async function issuesSentTo(
  services: Services,
  slugs: string[],
  subscriberIds: number[],
  status: IssueStatus = 'sent',
) {
  const ids: number[] = [];
  for (const slug of slugs) {
    const now = nowIso();
    const issue = await services.db
      .insertInto('issues')
      .values({
        slug,
        title: slug,
        edition: '',
        period: '',
        editor_note_markdown: '',
        status,
        started_at: now,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.push(issue.id);
    for (const subscriberId of subscriberIds) {
      await services.db
        .insertInto('deliveries')
        .values({
          issue_id: issue.id,
          subscriber_id: subscriberId,
          edition_key: '*',
          status: 'sent',
          attempts: 1,
          sent_at: now,
          created_at: now,
        })
        .execute();
    }
  }
  return ids;
}

let sequence = 0;
function report(fields: Partial<FeedbackReport> & Pick<FeedbackReport, 'kind'>): FeedbackReport {
  return { source: 'ses', eventId: `event-${++sequence}`, recipientTrusted: true, ...fields };
}

describe('the feedback pipeline', () => {
  let env: TempEnv;
  let services: Services;
  let processor: FeedbackProcessor;
  let ids: Map<string, number>;
  let issues: number[];

  beforeAll(async () => {
    env = makeTempEnv({ BOUNCE_DOMAIN: 'bounces.example.org', BOUNCE_SOFT_LIMIT: '3' });
    services = await env.open();
    processor = createFeedbackProcessor(services);
    ids = await insertSubscribers(services.db, [
      { email: 'soft@example.net' },
      { email: 'gap@example.net' },
      { email: 'proof@example.net' },
      { email: 'replay@example.net' },
    ]);
    issues = await issuesSentTo(services, ['first', 'second', 'third'], [...ids.values()]);
  });

  afterAll(async () => {
    await services?.close();
    env?.cleanup();
  });

  const ref = (email: string, issueIndex: number) => ({
    issueId: issues[issueIndex] ?? 0,
    subscriberId: ids.get(email) ?? 0,
  });

  it('counts soft bounces and makes a subscriber bounced after BOUNCE_SOFT_LIMIT consecutive issues', async () => {
    const soft = (issueIndex: number) =>
      processor.apply(report({ kind: 'soft', delivery: ref('soft@example.net', issueIndex), status: '4.2.2' }));
    expect((await soft(0)).outcome).toBe('soft-counted');
    // Two on the same issue count once.
    expect((await soft(1)).outcome).toBe('soft-counted');
    expect((await soft(1)).outcome).toBe('soft-counted');
    expect((await subscriberState(services, 'soft@example.net')).status).toBe('active');
    expect((await soft(2)).outcome).toBe('bounced');
    const state = await subscriberState(services, 'soft@example.net');
    expect(state.status).toBe('bounced');
    expect(JSON.parse(state.log.at(-1)?.detail ?? '{}')).toMatchObject({
      kind: 'soft',
      softBounceIssues: ['third', 'second', 'first'],
      softLimit: 3,
    });
  });

  it('starts the count again after an issue that did not bounce', async () => {
    for (const issueIndex of [0, 2]) {
      await processor.apply(report({ kind: 'soft', delivery: ref('gap@example.net', issueIndex) }));
    }
    expect((await subscriberState(services, 'gap@example.net')).status).toBe('active');
  });

  it('a mail report without a token must prove its recipient with the Message-ID we sent them', async () => {
    const before = await subscriberState(services, 'proof@example.net');
    const unproven = await processor.apply(
      report({ source: 'imap', kind: 'hard', recipient: 'Proof@Example.net', recipientTrusted: false }),
    );
    expect(unproven).toMatchObject({ applied: true, outcome: 'no-subscriber', subscriberId: null });
    expect(await subscriberState(services, 'proof@example.net')).toEqual(before);

    const uid = (
      await services.db
        .selectFrom('subscribers')
        .select('uid')
        .where('id', '=', ids.get('proof@example.net') ?? 0)
        .executeTakeFirstOrThrow()
    ).uid;
    const messageId = new MessageBuilder({ config: services.config, publicationName: '' }).messageId('second', uid);
    const proven = await processor.apply(
      report({
        source: 'imap',
        kind: 'hard',
        recipient: 'proof@example.net',
        recipientTrusted: false,
        originalMessageIds: ['<other@example.org>', messageId],
      }),
    );
    expect(proven).toMatchObject({
      outcome: 'bounced',
      subscriberId: ids.get('proof@example.net'),
      issueId: issues[1],
    });
  });

  it('applies a replayed event once', async () => {
    const event = report({ kind: 'complaint', recipient: 'replay@example.net', eventId: 'provider-event-1' });
    expect(await processor.apply(event)).toMatchObject({ applied: true, outcome: 'complained' });
    const after = await subscriberState(services, 'replay@example.net');
    const rows = (await feedbackRows(services)).length;
    expect(await processor.apply(event)).toMatchObject({ applied: false, outcome: 'duplicate' });
    expect(await subscriberState(services, 'replay@example.net')).toEqual(after);
    expect(await feedbackRows(services)).toHaveLength(rows);
  });

  it('attributes a trusted provider event without a token to the latest delivery', async () => {
    const [extra] = (await insertSubscribers(services.db, [{ email: 'latest@example.net' }])).values();
    await issuesSentTo(services, ['fourth'], [extra ?? 0]);
    const result = await processor.apply(report({ kind: 'soft', recipient: 'latest@example.net' }));
    const fourth = await services.db
      .selectFrom('issues')
      .select('id')
      .where('slug', '=', 'fourth')
      .executeTakeFirstOrThrow();
    expect(result).toMatchObject({ outcome: 'soft-counted', issueId: fourth.id });
  });
});

describe('pausing a send on its complaint or hard-bounce rate', () => {
  const limits = { pauseComplaintRate: 0.003, pauseHardBounceRate: 0.05, pauseAfterSent: 1000 };

  it('waits for the first 1,000 messages, then trips when a rate passes its limit', () => {
    expect(pauseReason(10, 0, 999, limits)).toBeNull();
    expect(pauseReason(3, 0, 1000, limits)).toBeNull();
    expect(pauseReason(4, 0, 1000, limits)).toBe(
      'Paused automatically: complaint rate 0.4% (4 of 1000 sent) is above 0.3%',
    );
    expect(pauseReason(0, 50, 1000, limits)).toBeNull();
    expect(pauseReason(0, 51, 1000, limits)).toBe(
      'Paused automatically: hard-bounce rate 5.1% (51 of 1000 sent) is above 5%',
    );
  });

  it('pauses an issue that is sending, through the send’s own pause, with the reason shown', async () => {
    const env = makeTempEnv({ BOUNCE_PAUSE_AFTER: '20', BOUNCE_PAUSE_HARD_BOUNCE_RATE: '5%' });
    const services = await env.open();
    try {
      const emails = Array.from({ length: 20 }, (_, i) => ({ email: `r${i}@example.net` }));
      const ids = [...(await insertSubscribers(services.db, emails)).values()];
      const [issueId = 0] = await issuesSentTo(services, ['sending-now'], ids, 'sending');
      const processor = createFeedbackProcessor(services);
      const bounce = (i: number) =>
        processor.apply(report({ kind: 'hard', delivery: { issueId, subscriberId: ids[i] ?? 0 }, status: '5.1.1' }));
      expect((await bounce(0)).paused).toBeNull(); // 1 of 20 = 5%: not above
      const second = await bounce(1);
      expect(second.paused).toBe('Paused automatically: hard-bounce rate 10% (2 of 20 sent) is above 5%');
      const issue = await services.db
        .selectFrom('issues')
        .select(['status', 'pause_reason'])
        .where('id', '=', issueId)
        .executeTakeFirstOrThrow();
      expect(issue).toEqual({ status: 'paused', pause_reason: second.paused });
      // Already paused: a third bounce records, and pauses nothing again.
      expect((await bounce(2)).paused).toBeNull();
    } finally {
      await services.close();
      env.cleanup();
    }
  });
});
