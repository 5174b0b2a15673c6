import type { Services } from '../src/app/services.js';
import { getPublication, issueHasArticles } from '../src/content/content-repository.js';
import { nowIso } from '../src/db/database.js';
import type { IssueRow, IssueStatus } from '../src/db/schema.js';
import { parseEmail } from '../subscribers/address.js';
import { subscriberLinks } from '../subscribers/tokens.js';
import {
  clearRetryWaits,
  countDeliveries,
  findSubscriberByEmail,
  getIssueById,
  planIssueDeliveries,
  requireIssue,
  setIssueSchedule,
  skipUnsent,
  transitionIssue,
  type DeliveryCounts,
} from './delivery-repository.js';
import { MessageBuilder } from './message-builder.js';
import { EditionTracker } from '../src/tracking/edition-tracker.js';
import { getTrackingSettings } from '../src/tracking/tracking-repository.js';
import { assertScheduleYear, formatScheduleTime, parseScheduleTime } from './schedule.js';
import { listSenders, takeOverExpiredClaims, type SenderRow } from './sender-repository.js';
import type { SendOutcome, SendProgress, SendTuning } from './send-manager.js';
import { SendWorker } from './send-worker.js';
import { SendError } from '../src/mail/messenger.js';

// The programmatic API of sending, used by the CLI, the scheduler and the editors' web app.
// Every function takes the process's Services. Starting, pausing, resuming and cancelling are
// writes to the database that every sender (of any process) sees within a second.

/** A request that cannot be honoured in the issue's current state; the message says what to do. */
export class SendControlError extends Error {}

/** A send time that has passed; `when` lets each surface word it (the CLI suggests `send`, the app "Send now"). */
export class ScheduleInPastError extends SendControlError {
  constructor(
    readonly when: Date,
    message: string,
  ) {
    super(message);
  }
}

/** Why an issue with no article is neither sent nor scheduled (nor ever public). */
const EMPTY_ISSUE = 'the issue has no article, so it cannot be sent or scheduled; add articles to it first';

export interface IssueSendStatus {
  slug: string;
  title: string;
  status: IssueStatus;
  /** ISO UTC, and as shown to editors in SCHEDULE_TZ. */
  sendAt: string | null;
  sendAtLocal: string | null;
  startedAt: string | null;
  sentAt: string | null;
  pauseReason: string | null;
  counts: DeliveryCounts;
  /** Senders alive now, with the deliveries of this issue each holds in flight. */
  senders: SenderRow[];
}

export interface SendReport {
  slug: string;
  /** `already-sent`: nothing to do; `not-started`: see reason. */
  outcome: Exclude<SendOutcome, 'idle'> | 'already-sent' | 'not-started';
  reason: string | null;
  counts: DeliveryCounts;
  /** Messages this process's sender had accepted by the server. */
  sentThisRun: number;
  editionsBuilt: number;
  /** Editions of this run sent with teasers to stay within EMAIL_HTML_BUDGET. */
  editionsFitted: number;
  /** Editions of this run over the budget (the issue's `email_fit` is `full`, or nothing could fit). */
  editionsOverBudget: number;
  /** Deliveries of stalled or dead senders (a crash, kill -9) this run took over and sent again. */
  recoveredInFlight: number;
  startedAt: Date;
  firstSentAt: Date | null;
  finishedAt: Date;
}

export interface SendOptions {
  /** A paused issue is resumed (true for `newsletter send`). */
  resumePaused?: boolean;
  onProgress?: (progress: SendProgress) => void;
  /** Overrides of the send engine's tuning (tests use short retry delays). */
  tuning?: Partial<SendTuning>;
}

// ---------------------------------------------------------------------------------------------
// The senders of this process (`serve`'s or `worker`'s, and any `sendIssue` running here): an
// editor's action in this process reaches them at once instead of at their next poll.

interface SendRegistry {
  workers: Set<SendWorker>;
}

const registries = new WeakMap<Services, SendRegistry>();

/** @internal shared with scheduler-service.ts */
export function registryFor(services: Services): SendRegistry {
  let registry = registries.get(services);
  if (!registry) {
    registry = { workers: new Set() };
    registries.set(services, registry);
  }
  return registry;
}

/** Makes this process's senders look at the sends now (a send started, paused, resumed, cancelled). */
function pokeSenders(services: Services): void {
  for (const worker of registryFor(services).workers) worker.poke();
}

function emptyReport(
  slug: string,
  outcome: SendReport['outcome'],
  reason: string | null,
  counts: DeliveryCounts,
): SendReport {
  const now = new Date();
  return {
    slug,
    outcome,
    reason,
    counts,
    sentThisRun: 0,
    editionsBuilt: 0,
    editionsFitted: 0,
    editionsOverBudget: 0,
    recoveredInFlight: 0,
    startedAt: now,
    firstSentAt: null,
    finishedAt: now,
  };
}

/** How long a sender stays listed after it was last seen. */
const SENDERS_SHOWN_MS = 10 * 60_000;

/**
 * Makes an issue `sending`: plans it the first time (one delivery per active subscriber, in one
 * transaction), or resumes it when paused and `resumePaused`. Returns a report when it will not
 * be sent (already sent, cancelled, paused), else null.
 */
async function begin(services: Services, row: IssueRow, resumePaused: boolean): Promise<SendReport | null> {
  const { db } = services;
  const logger = services.logger.child({ issue: row.slug });
  const counts = () => countDeliveries(db, row.id);
  if (row.status === 'sent') {
    return emptyReport(
      row.slug,
      'already-sent',
      `already sent${row.sent_at ? ` on ${row.sent_at}` : ''}`,
      await counts(),
    );
  }
  if (row.status === 'cancelled') return emptyReport(row.slug, 'not-started', 'the send was cancelled', await counts());
  if (row.status === 'paused') {
    if (!resumePaused) return emptyReport(row.slug, 'paused', row.pause_reason, await counts());
    const { changed } = await transitionIssue(db, row.id, ['paused'], 'sending', { pauseReason: null });
    if (changed) {
      await clearRetryWaits(db, row.id);
      logger.info({ pauseReason: row.pause_reason }, 'send resumed');
    }
  }
  if (row.started_at === null && !(await issueHasArticles(db, row.id))) {
    return emptyReport(row.slug, 'not-started', EMPTY_ISSUE, await counts());
  }
  if (row.started_at === null && (await planIssueDeliveries(db, row.id, nowIso()))) {
    const planned = await counts();
    logger.info({ planned: planned.planned, skipped: planned.skipped, pending: planned.pending }, 'send planned');
    await prepareFrame(services, row.slug, logger);
  }
  return null;
}

/**
 * Compiles the send's email frame once, where the send starts: it is stored with the frozen
 * content (src/render/compiled-frames.ts), so the senders, in this process or any other, fill
 * editions into it without compiling MJML themselves. A failure is only logged: each sender meets
 * the same error while preparing its messages and pauses the send with it, as before.
 */
async function prepareFrame(services: Services, slug: string, logger: Services['logger']): Promise<void> {
  try {
    await services.renderer.edition(slug, null);
  } catch (error) {
    logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      'the email frame could not be compiled',
    );
  } finally {
    services.mjml.release();
  }
}

// ---------------------------------------------------------------------------------------------
// The API.

/** Status, schedule and delivery counts of an issue. */
export async function sendStatus(services: Services, slug: string): Promise<IssueSendStatus> {
  const row = await requireIssue(services.db, slug);
  return statusOf(services, row);
}

async function statusOf(services: Services, row: IssueRow): Promise<IssueSendStatus> {
  const senders = await listSenders(services.db, { issueId: row.id, recentMs: SENDERS_SHOWN_MS });
  return {
    slug: row.slug,
    title: row.title,
    status: row.status,
    sendAt: row.send_at,
    sendAtLocal: row.send_at ? formatScheduleTime(row.send_at, services.config.scheduleTz) : null,
    startedAt: row.started_at,
    sentAt: row.sent_at,
    pauseReason: row.pause_reason,
    counts: await countDeliveries(services.db, row.id),
    senders: senders.filter((s) => s.alive || s.claims > 0),
  };
}

/**
 * Sets the send time. `at` is an ISO-8601 time with an offset or an IANA zone, or a wall-clock
 * time in SCHEDULE_TZ (see schedule.ts), or a Date. A time more than a minute in the past is
 * refused: use startSend to send now.
 */
export async function scheduleIssue(services: Services, slug: string, at: string | Date): Promise<IssueSendStatus> {
  const row = await requireIssue(services.db, slug);
  const when = typeof at === 'string' ? parseScheduleTime(at, services.config.scheduleTz) : at;
  if (Number.isNaN(when.getTime())) throw new SendControlError('The send time is not a valid date');
  assertScheduleYear(when.getUTCFullYear(), when.toISOString());
  if (row.started_at !== null || !['draft', 'scheduled', 'cancelled'].includes(row.status)) {
    throw new SendControlError(
      `Issue "${slug}" is ${row.status}; only an issue that has not started sending can be scheduled`,
    );
  }
  if (!(await issueHasArticles(services.db, row.id))) throw new SendControlError(`Issue "${slug}": ${EMPTY_ISSUE}`);
  if (when.getTime() < Date.now() - 60_000) {
    throw new ScheduleInPastError(
      when,
      `${formatScheduleTime(when, services.config.scheduleTz)} is in the past; give a later time, or send now with \`newsletter send ${slug}\``,
    );
  }
  await setIssueSchedule(services.db, row.id, when.toISOString());
  services.logger.info({ issue: slug, sendAt: when.toISOString() }, 'issue scheduled');
  return sendStatus(services, slug);
}

/** Clears the send time; the issue goes back to draft. */
export async function unscheduleIssue(services: Services, slug: string): Promise<IssueSendStatus> {
  const row = await requireIssue(services.db, slug);
  if (row.status !== 'scheduled') {
    throw new SendControlError(`Issue "${slug}" is not scheduled (it is ${row.status})`);
  }
  await setIssueSchedule(services.db, row.id, null);
  services.logger.info({ issue: slug }, 'issue unscheduled');
  return sendStatus(services, slug);
}

/**
 * Sends an issue: plans it if it has not started (or resumes it when paused), then joins the send
 * as a sender of this process beside any others, until the issue is no longer sending: finished,
 * paused (by an editor or automatically), cancelled, or stopped (`signal`, e.g. SIGTERM: in-flight
 * messages are drained first, within SEND_STOP_TIMEOUT).
 */
export async function sendIssue(
  services: Services,
  slug: string,
  options: SendOptions & { signal?: AbortSignal } = {},
): Promise<SendReport> {
  const row = await requireIssue(services.db, slug);
  const early = await begin(services, row, options.resumePaused ?? true);
  if (early) return early;
  const startedAt = new Date();
  const worker = new SendWorker(services, {
    issueId: row.id,
    tuning: options.tuning,
    onProgress: options.onProgress ? (_issue, progress) => options.onProgress?.(progress) : undefined,
  });
  const stop = () => worker.stop();
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener('abort', stop);
  const { workers } = registryFor(services);
  workers.add(worker);
  try {
    await worker.run();
  } finally {
    workers.delete(worker);
    options.signal?.removeEventListener('abort', stop);
  }
  const after = (await getIssueById(services.db, row.id)) ?? row;
  const totals = worker.totals.get(row.id);
  const outcome: SendReport['outcome'] =
    after.status === 'sent'
      ? 'finished'
      : after.status === 'paused'
        ? 'paused'
        : after.status === 'cancelled'
          ? 'cancelled'
          : 'stopped';
  const reasons: Record<SendReport['outcome'], string | null> = {
    finished: null,
    paused: after.pause_reason,
    cancelled: 'send cancelled',
    stopped: totals?.last?.reason ?? 'stop requested',
    'already-sent': null,
    'not-started': null,
  };
  return {
    slug,
    outcome,
    reason: reasons[outcome],
    counts: await countDeliveries(services.db, row.id),
    sentThisRun: totals?.sentThisRun ?? 0,
    editionsBuilt: totals?.editionsBuilt ?? 0,
    editionsFitted: totals?.fitted.size ?? 0,
    editionsOverBudget: totals?.overBudget.size ?? 0,
    recoveredInFlight: totals?.takenOver ?? 0,
    startedAt,
    firstSentAt: totals?.firstSentAt ?? null,
    finishedAt: new Date(),
  };
}

/**
 * Starts a send (the web app's "Send now", the scheduler's tick): plans it, or resumes a paused
 * one, and returns its status at once. The senders (`serve`, `worker`, `send`) pick it up within
 * a second.
 */
export async function startSend(services: Services, slug: string, options: SendOptions = {}): Promise<IssueSendStatus> {
  const row = await requireIssue(services.db, slug);
  const early = await begin(services, row, options.resumePaused ?? true);
  if (early && early.outcome === 'not-started')
    throw new SendControlError(`Issue "${slug}" cannot be sent: ${early.reason ?? ''}`);
  pokeSenders(services);
  return sendStatus(services, slug);
}

/** What a pause, resume or cancel did: `changed` is false when the issue already was in that state. */
export type ControlResult = IssueSendStatus & { changed: boolean };

/** Pauses a send: in-flight messages finish, the rest waits for resume. */
export async function pauseSend(
  services: Services,
  slug: string,
  reason = 'paused by an editor',
): Promise<ControlResult> {
  const row = await requireIssue(services.db, slug);
  const { changed, status } = await transitionIssue(services.db, row.id, ['sending'], 'paused', {
    pauseReason: reason,
  });
  if (!changed && status !== 'paused')
    throw new SendControlError(`Issue "${slug}" is not sending (it is ${status}); nothing to pause`);
  // Every sender sees it at its next poll (within a second); this process's own at once.
  if (changed) {
    pokeSenders(services);
    services.logger.info({ issue: slug, reason }, 'send paused');
  }
  return { ...(await sendStatus(services, slug)), changed };
}

/**
 * Resumes a paused send; deferred retries become due at once. In a process running the scheduler
 * (`newsletter serve`) sending continues right away; elsewhere the scheduler's next tick, or
 * `newsletter send`, continues it.
 */
export async function resumeSend(services: Services, slug: string): Promise<ControlResult> {
  const row = await requireIssue(services.db, slug);
  const { changed, status } = await transitionIssue(services.db, row.id, ['paused'], 'sending', { pauseReason: null });
  if (!changed && status !== 'sending')
    throw new SendControlError(`Issue "${slug}" is not paused (it is ${status}); nothing to resume`);
  if (!changed) return { ...(await sendStatus(services, slug)), changed };
  await clearRetryWaits(services.db, row.id);
  services.logger.info({ issue: slug }, 'send resumed');
  pokeSenders(services);
  return { ...(await sendStatus(services, slug)), changed };
}

/** Cancels a scheduled or running send; what was not sent is marked skipped ("send cancelled"). */
export async function cancelSend(services: Services, slug: string): Promise<ControlResult> {
  const row = await requireIssue(services.db, slug);
  const { changed, status } = await transitionIssue(
    services.db,
    row.id,
    ['scheduled', 'sending', 'paused'],
    'cancelled',
    { pauseReason: null },
  );
  if (!changed && status !== 'cancelled') {
    throw new SendControlError(
      `Issue "${slug}" is ${status}; only a scheduled, sending or paused issue can be cancelled`,
    );
  }
  if (!changed) return { ...(await sendStatus(services, slug)), changed };
  await skipUnsent(services.db, row.id, 'send cancelled', ['pending']);
  // Rows left in flight by senders that are gone are settled here too; live senders settle theirs.
  if ((await takeOverExpiredClaims(services.db, row.id, 0)) > 0)
    await skipUnsent(services.db, row.id, 'send cancelled', ['pending']);
  pokeSenders(services);
  services.logger.info({ issue: slug }, 'send cancelled');
  return { ...(await sendStatus(services, slug)), changed };
}

/**
 * A machine-local address such as a fresh install's `admin@localhost`: fine for a test copy (the
 * outbox, or a local mail server, takes it), though never for the subscriber list.
 */
const LOCAL_ADDRESS = /^[a-z0-9._%+-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

export interface TestSendResult {
  to: string;
  subject: string;
  editionKey: string;
  messageId: string;
  response: string;
}

/** One `[TEST]` copy of an edition to one address, outside the delivery records. */
export async function sendTest(
  services: Services,
  slug: string,
  email: string,
  topicSlugs: readonly string[] | null,
): Promise<TestSendResult> {
  const to = parseEmail(email) ?? (LOCAL_ADDRESS.test(email.trim()) ? email.trim().toLowerCase() : null);
  if (!to) throw new SendControlError(`"${email}" is not an email address`);
  const issue = await requireIssue(services.db, slug);
  const edition = await services.renderer.edition(slug, topicSlugs);
  if (edition.empty) {
    throw new SendControlError(
      `The edition for ${topicSlugs?.join(', ') ?? 'all topics'} holds no article of "${slug}"; nothing to send`,
    );
  }
  const publication = await getPublication(services.db);
  const tracker = new EditionTracker(
    {
      db: services.db,
      baseUrl: services.config.baseUrl,
      secretKey: services.config.secretKey,
      settings: await getTrackingSettings(services.db),
    },
    issue.id,
  );
  const builder = new MessageBuilder({ config: services.config, publicationName: publication.name, tracker });
  // A subscriber's own address gets their real links; any other address gets stand-in links.
  const subscriber = await findSubscriberByEmail(services.db, to);
  const fields = subscriber
    ? { name: subscriber.name, ...subscriberLinks(services.config, subscriber.uid) }
    : { ...services.renderer.previewFields(slug, topicSlugs), name: '' };
  const message = builder.buildTest(await tracker.track(edition), to, fields);
  try {
    const result = await services.messenger.send(message);
    services.logger.info({ issue: slug, edition: edition.key, messageId: result.messageId }, 'test copy sent');
    return {
      to,
      subject: message.subject,
      editionKey: edition.key,
      messageId: result.messageId,
      response: result.response,
    };
  } catch (error) {
    if (error instanceof SendError)
      throw new SendControlError(`The mail server refused the test copy: ${error.response}`);
    throw error;
  }
}
