import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Services } from '../src/app/services.js';
import { getPublication, issueHasArticles } from '../src/content/content-repository.js';
import { topicSlugsFromKey } from '../src/content/editions.js';
import { nowIso } from '../src/db/database.js';
import type { IssueRow, IssueStatus } from '../src/db/schema.js';
import { parseEmail } from '../subscribers/address.js';
import { subscriberLinks } from '../subscribers/tokens.js';
import {
  clearRetryWaits,
  countDeliveries,
  EMPTY_COUNTS,
  findSubscriberByEmail,
  getIssueById,
  getSendLease,
  insertSendLease,
  planIssueDeliveries,
  releaseSendLease,
  renewSendLease,
  requireIssue,
  resetInFlight,
  setIssueSchedule,
  setIssueStatus,
  skipUnsent,
  SqlDeliveryStore,
  takeOverSendLease,
  transitionIssue,
  type DeliveryCounts,
  type SendLease,
} from './delivery-repository.js';
import { MessageBuilder } from './message-builder.js';
import { BounceAddresses } from './bounces/bounce-address.js';
import { assertScheduleYear, formatScheduleTime, parseScheduleTime } from './schedule.js';
import { defaultTuning, SendManager, type SendOutcome, type SendProgress, type SendTuning } from './send-manager.js';
import { SendError } from '../src/mail/messenger.js';

// The programmatic API of sending, used by the CLI, the scheduler and the editors' web app.
// Every function takes the process's Services; sends started here run in this process.

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
  /** The process currently sending this issue, if any. */
  sender: { owner: string; heartbeatAt: string; thisProcess: boolean } | null;
}

export interface SendReport {
  slug: string;
  /** `already-sent`: nothing to do; `busy`: another process is sending it; `not-started`: see reason. */
  outcome: SendOutcome | 'already-sent' | 'busy' | 'not-started';
  reason: string | null;
  counts: DeliveryCounts;
  sentThisRun: number;
  editionsBuilt: number;
  /** Editions of this run sent with teasers to stay within EMAIL_HTML_BUDGET. */
  editionsFitted: number;
  /** Editions of this run over the budget (the issue's `email_fit` is `full`, or nothing could fit). */
  editionsOverBudget: number;
  /** Deliveries a crash had left in flight, put back to pending by this run. */
  recoveredInFlight: number;
  startedAt: Date;
  firstSentAt: Date | null;
  finishedAt: Date;
  /** The lease owner when `busy`. */
  owner?: string;
}

export interface SendOptions {
  /** A paused issue is resumed (true for `newsletter send`; the scheduler never resumes a pause). */
  resumePaused?: boolean;
  onProgress?: (progress: SendProgress) => void;
  /** Overrides of the send engine's tuning (tests use short retry delays). */
  tuning?: Partial<SendTuning>;
}

// ---------------------------------------------------------------------------------------------
// Runs in this process, and the lease that keeps them unique across processes.

const LEASE_STALE_MS = 60_000;
const HEARTBEAT_MS = 10_000;
const PROCESS_ID = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
let runSequence = 0;
const liveOwners = new Set<string>();

interface ActiveSend {
  issueId: number;
  slug: string;
  controller: AbortController;
  listeners: Set<(progress: SendProgress) => void>;
  /** Set once the engine runs: stops it with the right outcome (pause, cancel) without waiting for its poll. */
  stop?: (outcome: 'paused' | 'cancelled', reason: string) => void;
  /** Resolves once the run has planned and started sending, or with a report when it will not. */
  started: Promise<SendReport | null>;
  done: Promise<SendReport>;
}

interface SendRegistry {
  active: Map<number, ActiveSend>;
  schedulerRunning: boolean;
  tuning: Partial<SendTuning>;
}

const registries = new WeakMap<Services, SendRegistry>();

/** @internal shared with scheduler-service.ts */
export function registryFor(services: Services): SendRegistry {
  let registry = registries.get(services);
  if (!registry) {
    registry = { active: new Map(), schedulerRunning: false, tuning: {} };
    registries.set(services, registry);
  }
  return registry;
}

function ownerIsGone(lease: SendLease): boolean {
  if (Date.now() - new Date(lease.heartbeatAt).getTime() > LEASE_STALE_MS) return true;
  const [host, pidText] = lease.owner.split(':');
  if (host !== os.hostname()) return false;
  const pid = Number(pidText);
  if (pid === process.pid) return !liveOwners.has(lease.owner);
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Takes the issue's send lease: free, or held by a process that is gone (kill -9, power loss). */
async function acquireLease(
  services: Services,
  issueId: number,
  owner: string,
): Promise<{ ok: true } | { ok: false; holder: string }> {
  for (let tries = 0; tries < 3; tries++) {
    if (await insertSendLease(services.db, issueId, owner, nowIso())) return { ok: true };
    const lease = await getSendLease(services.db, issueId);
    if (!lease) continue;
    if (!ownerIsGone(lease)) return { ok: false, holder: lease.owner };
    if (await takeOverSendLease(services.db, issueId, lease, owner, nowIso())) {
      services.logger.warn({ previousOwner: lease.owner }, 'took over the send of a process that is gone');
      return { ok: true };
    }
  }
  const lease = await getSendLease(services.db, issueId);
  return { ok: false, holder: lease?.owner ?? 'unknown' };
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

function launch(services: Services, issue: IssueRow, options: SendOptions): ActiveSend {
  const registry = registryFor(services);
  const existing = registry.active.get(issue.id);
  if (existing) {
    if (options.onProgress) existing.listeners.add(options.onProgress);
    return existing;
  }
  const controller = new AbortController();
  const listeners = new Set<(progress: SendProgress) => void>();
  if (options.onProgress) listeners.add(options.onProgress);
  let markStarted: (report: SendReport | null) => void = () => {};
  const started = new Promise<SendReport | null>((resolve) => {
    markStarted = resolve;
  });
  const entry: ActiveSend = {
    issueId: issue.id,
    slug: issue.slug,
    controller,
    listeners,
    started,
    done: Promise.resolve(emptyReport(issue.slug, 'not-started', null, EMPTY_COUNTS)),
  };
  registry.active.set(issue.id, entry);
  entry.done = runIssue(
    services,
    issue,
    { ...options, tuning: { ...registry.tuning, ...options.tuning } },
    entry,
    markStarted,
  )
    .then((report) => {
      markStarted(report);
      return report;
    })
    .catch((error: unknown) => {
      markStarted(null);
      throw error;
    })
    .finally(() => registry.active.delete(issue.id));
  return entry;
}

async function runIssue(
  services: Services,
  issue: IssueRow,
  options: SendOptions,
  entry: ActiveSend,
  markStarted: (report: SendReport | null) => void,
): Promise<SendReport> {
  const { db, config } = services;
  const logger = services.logger.child({ issue: issue.slug });
  const owner = `${PROCESS_ID}:${++runSequence}`;
  const lease = await acquireLease(services, issue.id, owner);
  if (!lease.ok) {
    const counts = await countDeliveries(db, issue.id);
    return {
      ...emptyReport(issue.slug, 'busy', `being sent by another process (${lease.holder})`, counts),
      owner: lease.holder,
    };
  }
  liveOwners.add(owner);
  let heartbeat: NodeJS.Timeout | undefined;
  try {
    const row = (await getIssueById(db, issue.id)) ?? issue;
    const counts = () => countDeliveries(db, issue.id);
    if (row.status === 'sent') {
      return emptyReport(
        issue.slug,
        'already-sent',
        `already sent${row.sent_at ? ` on ${row.sent_at}` : ''}`,
        await counts(),
      );
    }
    if (row.status === 'cancelled') {
      return emptyReport(issue.slug, 'not-started', 'the send was cancelled', await counts());
    }
    if (row.status === 'paused') {
      if (!options.resumePaused) return emptyReport(issue.slug, 'paused', row.pause_reason, await counts());
      await transitionIssue(db, issue.id, ['paused'], 'sending', { pauseReason: null });
      await clearRetryWaits(db, issue.id);
      logger.info({ pauseReason: row.pause_reason }, 'send resumed');
    }
    if (row.started_at === null) {
      if (!(await issueHasArticles(db, issue.id))) {
        return emptyReport(issue.slug, 'not-started', EMPTY_ISSUE, await counts());
      }
      await planIssueDeliveries(db, issue.id, nowIso());
      const planned = await counts();
      logger.info({ planned: planned.planned, skipped: planned.skipped, pending: planned.pending }, 'send planned');
    } else if (row.status !== 'sending' && row.status !== 'paused') {
      await setIssueStatus(db, issue.id, 'sending');
    }
    // We hold the lease, so anything still `sending` was left by a process that died.
    const recovered = await resetInFlight(db, issue.id);
    if (recovered > 0) logger.warn({ recovered }, 'resuming an interrupted send: in-flight deliveries back to pending');

    const publication = await getPublication(db);
    const builder = new MessageBuilder({
      config,
      publicationName: publication.name,
      returnPath: config.bounces.domain
        ? { addresses: new BounceAddresses(config.secretKey, config.bounces.domain), issueId: issue.id }
        : undefined,
    });
    const fitted = new Set<string>();
    const overBudget = new Set<string>();
    const manager = new SendManager(
      {
        store: new SqlDeliveryStore(db, issue.id),
        transport: services.messenger,
        editions: {
          async edition(key) {
            const edition = await services.renderer.edition(issue.slug, topicSlugsFromKey(key));
            if (edition.fit.teasers.length > 0) fitted.add(key);
            if (edition.fit.overBudget) overBudget.add(key);
            // The issue's MJML frame is compiled now; the rest of the send only fills editions into
            // it, so the compiler's thread goes at once instead of idling beside the send's traffic.
            services.mjml.release();
            return edition;
          },
        },
        messages: builder,
        logger,
      },
      {
        tuning: { ...defaultTuning(config.sendConcurrency), drainMs: config.sendStopTimeoutMs, ...options.tuning },
        signal: entry.controller.signal,
        onProgress: (progress) => {
          for (const listener of entry.listeners) listener(progress);
        },
      },
    );
    entry.stop = (outcome, reason) => manager.requestStop(outcome, reason);
    heartbeat = setInterval(() => {
      renewSendLease(db, issue.id, owner, nowIso())
        .then((held) => {
          if (!held) manager.requestStop('stopped', 'another process took over this send');
        })
        .catch(() => {});
    }, HEARTBEAT_MS);
    heartbeat.unref();
    markStarted(null);
    logger.info({ mail: services.messenger.kind }, 'sending');
    const result = await manager.run();
    const report: SendReport = {
      slug: issue.slug,
      ...result,
      editionsFitted: fitted.size,
      editionsOverBudget: overBudget.size,
      recoveredInFlight: recovered,
    };
    const summary = {
      outcome: report.outcome,
      reason: report.reason,
      ...report.counts,
      sentThisRun: report.sentThisRun,
      editions: report.editionsBuilt,
      editionsFitted: report.editionsFitted,
      editionsOverBudget: report.editionsOverBudget,
      seconds: (report.finishedAt.getTime() - report.startedAt.getTime()) / 1000,
    };
    if (report.outcome === 'finished') logger.info(summary, 'send finished');
    else logger.warn(summary, 'send stopped before the end');
    return report;
  } finally {
    if (heartbeat) clearInterval(heartbeat);
    liveOwners.delete(owner);
    await releaseSendLease(db, issue.id, owner).catch(() => {});
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
  const lease = await getSendLease(services.db, row.id);
  const live = lease && !ownerIsGone(lease) ? lease : undefined;
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
    sender: live ? { owner: live.owner, heartbeatAt: live.heartbeatAt, thisProcess: liveOwners.has(live.owner) } : null,
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
 * Sends an issue in this process and resolves when the run ends: finished, paused (by an editor
 * or automatically), cancelled, stopped (`signal`, e.g. SIGTERM: in-flight messages are drained
 * first) or not started (already sent, cancelled, or another process is sending it: `busy`).
 */
export async function sendIssue(
  services: Services,
  slug: string,
  options: SendOptions & { signal?: AbortSignal } = {},
): Promise<SendReport> {
  const row = await requireIssue(services.db, slug);
  const entry = launch(services, row, { resumePaused: true, ...options });
  const abort = () => entry.controller.abort();
  options.signal?.addEventListener('abort', abort);
  try {
    return await entry.done;
  } finally {
    options.signal?.removeEventListener('abort', abort);
    if (options.onProgress) entry.listeners.delete(options.onProgress);
  }
}

/**
 * Starts sending in the background of this process (the web app's "Send now") and resolves once
 * the deliveries are planned, with the issue's status. Errors of the run are logged.
 */
export async function startSend(services: Services, slug: string, options: SendOptions = {}): Promise<IssueSendStatus> {
  const row = await requireIssue(services.db, slug);
  const entry = launch(services, row, { resumePaused: true, ...options });
  entry.done.catch((error: unknown) => {
    services.logger.error({ issue: slug, err: error instanceof Error ? error.stack : String(error) }, 'send failed');
  });
  const early = await entry.started.catch(() => null);
  if (early && early.outcome === 'not-started')
    throw new SendControlError(`Issue "${slug}" cannot be sent: ${early.reason ?? ''}`);
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
  if (changed) {
    registryFor(services).active.get(row.id)?.stop?.('paused', reason);
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
  if (registryFor(services).schedulerRunning) await startSend(services, slug, { resumePaused: false });
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
  const lease = await getSendLease(services.db, row.id);
  // With nobody sending, rows a crash left in flight are settled here too.
  if (!lease || ownerIsGone(lease)) await skipUnsent(services.db, row.id, 'send cancelled', ['sending']);
  registryFor(services).active.get(row.id)?.stop?.('cancelled', 'send cancelled');
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
  await requireIssue(services.db, slug);
  const edition = await services.renderer.edition(slug, topicSlugs);
  if (edition.empty) {
    throw new SendControlError(
      `The edition for ${topicSlugs?.join(', ') ?? 'all topics'} holds no article of "${slug}"; nothing to send`,
    );
  }
  const publication = await getPublication(services.db);
  const builder = new MessageBuilder({ config: services.config, publicationName: publication.name });
  // A subscriber's own address gets their real links; any other address gets stand-in links.
  const subscriber = await findSubscriberByEmail(services.db, to);
  const fields = subscriber
    ? { name: subscriber.name, ...subscriberLinks(services.config, subscriber.uid) }
    : { ...services.renderer.previewFields(slug, topicSlugs), name: '' };
  const message = builder.buildTest(edition, to, fields);
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

/** Stops every send of this process after draining in-flight messages (SIGTERM, server stop). */
export async function stopAllSends(services: Services): Promise<void> {
  const registry = registryFor(services);
  const runs = [...registry.active.values()];
  for (const run of runs) run.controller.abort();
  await Promise.allSettled(runs.map((r) => r.done));
}
