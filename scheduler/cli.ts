import type { WriteStream } from 'node:tty';
import { listTopics } from '../src/content/content-repository.js';
import { assertKnownTopics } from '../src/content/editions.js';
import { CliError, parseTopicList, type CliContext, type RegisterCommands } from '../src/command/context.js';
import type { Services } from '../src/app/services.js';
import { listFailedDeliveries, requireIssue } from './delivery-repository.js';
import { countIssueFeedback, type FeedbackCounts } from './bounces/feedback-repository.js';
import { listSenders, type SenderRow } from './sender-repository.js';
import { startScheduler } from './scheduler-service.js';
import { createProgressReporter, formatDuration } from './progress.js';
import { ScheduleTimeError } from './schedule.js';
import {
  cancelSend,
  pauseSend,
  resumeSend,
  scheduleIssue,
  SendControlError,
  sendIssue,
  sendStatus,
  sendTest,
  unscheduleIssue,
  type IssueSendStatus,
  type SendReport,
} from './send-control.js';

// README, "Command line": schedule, unschedule, send (and send --test), status, pause, resume, cancel.

/** Exit status of `send` when the issue is not finished (paused, cancelled, stopped). */
const EXIT_NOT_FINISHED = 3;

async function userErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SendControlError || error instanceof ScheduleTimeError) throw new CliError(error.message);
    throw error;
  }
}

function countsLine(s: Pick<IssueSendStatus, 'counts'>): string {
  const c = s.counts;
  const inFlight = c.sending > 0 ? ` (${c.sending} in flight)` : '';
  return `planned ${c.planned}, sent ${c.sent}, skipped ${c.skipped}, failed ${c.failed}, pending ${c.pending + c.sending}${inFlight}`;
}

function senderLine(s: SenderRow): string {
  const seen = Math.max(0, Math.round((Date.now() - s.lastSeen.getTime()) / 1000));
  return `${s.host} pid ${s.pid}: ${s.claims} claimed, ${s.rate.toFixed(1)} msg/s, ${s.sent} sent, last seen ${seen} s ago${s.alive ? '' : ' (gone)'}`;
}

function statusText(s: IssueSendStatus): string {
  const lines = [`${s.slug} — ${s.title}`, `  status:     ${s.status}`];
  if (s.sendAtLocal) lines.push(`  send at:    ${s.sendAtLocal}`);
  if (s.startedAt) lines.push(`  started:    ${s.startedAt}`);
  if (s.sentAt) lines.push(`  finished:   ${s.sentAt}`);
  if (s.pauseReason) lines.push(`  paused:     ${s.pauseReason}`);
  lines.push(`  deliveries: ${countsLine(s)}`);
  if (s.senders.length > 0) {
    lines.push(`  senders:    ${s.senders.length}`);
    for (const sender of s.senders) lines.push(`    ${senderLine(sender)}`);
  } else if (s.status === 'sending') {
    lines.push(
      `  senders:    none alive: run \`newsletter worker\`, \`newsletter serve\` or \`newsletter send ${s.slug}\``,
    );
  }
  return lines.join('\n') + '\n';
}

/** What came back after sending (scheduler/bounces): distinct subscribers per kind, replies kept. */
function feedbackLine(c: FeedbackCounts): string {
  return `  feedback:   hard bounces ${c.hard}, soft bounces ${c.soft}, complaints ${c.complaints}, unclassified replies ${c.unclassified}\n`;
}

function isTty(stream: NodeJS.WritableStream): boolean {
  return (stream as Partial<WriteStream>).isTTY === true;
}

/** How many editions were fitted with teasers to stay within EMAIL_HTML_BUDGET (README: Size budget). */
function fittedLine(report: SendReport): string {
  const n = report.editionsFitted;
  let line = `${n} of ${report.editionsBuilt} edition${report.editionsBuilt === 1 ? '' : 's'} fitted with teasers to stay within the email size budget`;
  if (report.editionsOverBudget > 0) {
    line += `; ${report.editionsOverBudget} over the budget (email_fit: full): Gmail clips them`;
  }
  return line;
}

async function printSummary(ctx: CliContext, services: Services, report: SendReport): Promise<void> {
  const c = report.counts;
  const seconds = (report.finishedAt.getTime() - report.startedAt.getTime()) / 1000;
  const rate = seconds > 0 ? Math.round(report.sentThisRun / seconds) : 0;
  const out = ctx.stdout;
  switch (report.outcome) {
    case 'finished':
      out.write(
        `Sent ${report.slug}: ${c.sent} sent, ${c.skipped} skipped, ${c.failed} failed of ${c.planned} planned` +
          ` (${report.sentThisRun} in this run, ${formatDuration(seconds)}, ${rate} msg/s, ${report.editionsBuilt} editions)\n`,
      );
      out.write(`  ${fittedLine(report)}\n`);
      break;
    case 'paused':
      out.write(`Paused ${report.slug}: ${report.reason ?? ''}\n  ${countsLine(report)}\n`);
      out.write(
        `  Fix the cause, then \`newsletter resume ${report.slug}\` (with \`newsletter serve\` running) or \`newsletter send ${report.slug}\`.\n`,
      );
      break;
    case 'cancelled':
      out.write(`Cancelled ${report.slug}: ${countsLine(report)}\n`);
      break;
    case 'stopped':
      out.write(
        `Stopped ${report.slug} (${report.reason ?? 'stopped'}); nothing is in doubt: ${countsLine(report)}\n` +
          `  Run \`newsletter send ${report.slug}\` again to continue; nobody gets a second copy.\n`,
      );
      break;
    case 'already-sent':
      out.write(`Nothing to send: ${report.slug} was ${report.reason ?? 'already sent'} (${countsLine(report)})\n`);
      break;
    case 'not-started':
      out.write(`${report.slug}: ${report.reason ?? report.outcome} (${countsLine(report)})\n`);
      break;
  }
  if (report.recoveredInFlight > 0) {
    out.write(
      `  Resumed an interrupted send: ${report.recoveredInFlight} messages left in flight by a sender that stopped were sent again (same Message-ID).\n`,
    );
  }
  if (c.failed > 0 && report.outcome !== 'already-sent') {
    const issue = await requireIssue(services.db, report.slug);
    const failed = await listFailedDeliveries(services.db, issue.id, 20);
    out.write(`  Failed deliveries${c.failed > failed.length ? ` (first ${failed.length} of ${c.failed})` : ''}:\n`);
    for (const f of failed) out.write(`    ${f.email}: ${f.error ?? 'unknown error'}\n`);
  }
}

async function runSendCommand(ctx: CliContext, slug: string): Promise<void> {
  const services = await ctx.services();
  const before = await sendStatus(services, slug);
  if (before.status === 'cancelled')
    throw new CliError(`${slug} was cancelled; nothing to send (${countsLine(before)})`);

  const reporter = createProgressReporter({ stream: ctx.stderr, label: slug, tty: isTty(ctx.stderr) });
  const controller = new AbortController();
  let signalName: NodeJS.Signals | null = null;
  const onSignal = (name: NodeJS.Signals) => {
    if (signalName) return;
    signalName = name;
    ctx.stderr.write(`\n${name}: finishing the messages in flight, then stopping…\n`);
    controller.abort();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  let report: SendReport;
  try {
    // Joins the send beside any other senders (serve, worker, another send) until it is done.
    report = await sendIssue(services, slug, { onProgress: (p) => reporter.update(p), signal: controller.signal });
  } finally {
    reporter.finish();
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  if (report.outcome === 'not-started') throw new CliError(`${slug} was not sent: ${report.reason ?? 'not started'}`);
  await printSummary(ctx, services, report);
  if (signalName) ctx.setExitCode(signalName === 'SIGINT' ? 130 : 143);
  else if (report.outcome !== 'finished' && report.outcome !== 'already-sent') ctx.setExitCode(EXIT_NOT_FINISHED);
}

async function runTestSend(
  ctx: CliContext,
  slug: string,
  email: string,
  topicsOption: string | undefined,
): Promise<void> {
  const services = await ctx.services();
  const topics = parseTopicList(topicsOption);
  if (topics) assertKnownTopics(topics, await listTopics(services.db));
  const result = await sendTest(services, slug, email, topics);
  ctx.stdout.write(
    `Sent a [TEST] copy of ${slug} (edition ${result.editionKey === '*' ? 'all topics' : result.editionKey}) to ${result.to}\n`,
  );
  ctx.stderr.write(`  Message-ID ${result.messageId}; ${result.response}\n`);
}

/** `newsletter worker`: a sender (and a candidate for the scheduler's tick) with no web server. */
async function runWorker(ctx: CliContext): Promise<void> {
  const services = await ctx.services();
  const scheduler = await startScheduler(services, { worker: true });
  ctx.stderr.write('Sender running: it sends every issue being sent, beside any other senders. Ctrl-C stops it.\n');
  const name = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  ctx.stderr.write(`${name}: finishing the messages in flight, then stopping…\n`);
  await scheduler.stop();
}

async function listWorkers(ctx: CliContext): Promise<void> {
  const services = await ctx.services();
  const senders = await listSenders(services.db, { recentMs: 24 * 3600_000 });
  if (senders.length === 0) {
    ctx.stdout.write('No sender seen in the last 24 hours.\n');
    return;
  }
  const alive = senders.filter((s) => s.alive);
  ctx.stdout.write(
    `${alive.length} sender${alive.length === 1 ? '' : 's'} alive (of ${senders.length} seen in 24 h)\n`,
  );
  for (const sender of [...alive, ...senders.filter((s) => !s.alive)]) ctx.stdout.write(`  ${senderLine(sender)}\n`);
}

export const registerSchedulerCommands: RegisterCommands = (program, ctx) => {
  program
    .command('worker')
    .description('run a sender with no web server: it sends every issue being sent, beside any other senders')
    .action(() => runWorker(ctx));

  program
    .command('workers')
    .description('list the senders: host, pid, deliveries claimed, messages per second, last seen')
    .action(() => listWorkers(ctx));

  program
    .command('schedule')
    .argument('<issue>', 'issue slug')
    .requiredOption(
      '--at <time>',
      'ISO-8601 time with offset (2026-03-02T09:00+01:00) or zone ("2026-03-02 09:00 Europe/Brussels"); without either, SCHEDULE_TZ applies',
    )
    .description('set the time the issue is sent (by `newsletter serve`)')
    .action((slug: string, options: { at: string }) =>
      userErrors(async () => {
        const status = await scheduleIssue(await ctx.services(), slug, options.at);
        ctx.stdout.write(`Scheduled ${slug} for ${status.sendAtLocal ?? ''} (${status.sendAt ?? ''})\n`);
      }),
    );

  program
    .command('unschedule')
    .argument('<issue>', 'issue slug')
    .description("clear the issue's send time (back to draft)")
    .action((slug: string) =>
      userErrors(async () => {
        await unscheduleIssue(await ctx.services(), slug);
        ctx.stdout.write(`Unscheduled ${slug}; it is a draft again\n`);
      }),
    );

  program
    .command('send')
    .argument('<issue>', 'issue slug')
    .option('--test <email>', 'send one [TEST] copy to this address instead, outside the delivery records')
    .option('--topics <slugs>', 'with --test: the edition for these comma-separated topic slugs')
    .description(
      'send the issue now to every active subscriber, with progress; run again after an interruption to resume',
    )
    .action((slug: string, options: { test?: string; topics?: string }) =>
      userErrors(async () => {
        if (options.test !== undefined) return runTestSend(ctx, slug, options.test, options.topics);
        if (options.topics !== undefined) {
          throw new CliError(
            '--topics only goes with --test: a real send gives each subscriber the edition of their own topics',
          );
        }
        return runSendCommand(ctx, slug);
      }),
    );

  program
    .command('status')
    .argument('<issue>', 'issue slug')
    .description('send status and delivery counts: planned, sent, skipped, failed, pending')
    .action((slug: string) =>
      userErrors(async () => {
        const services = await ctx.services();
        const status = await sendStatus(services, slug);
        const issue = await requireIssue(services.db, slug);
        ctx.stdout.write(statusText(status) + feedbackLine(await countIssueFeedback(services.db, issue.id)));
      }),
    );

  program
    .command('pause')
    .argument('<issue>', 'issue slug')
    .option('--reason <text>', 'shown to editors', 'paused by an editor')
    .description('pause a send in progress (messages in flight finish)')
    .action((slug: string, options: { reason: string }) =>
      userErrors(async () => {
        const status = await pauseSend(await ctx.services(), slug, options.reason);
        ctx.stdout.write(`${status.changed ? 'Paused' : 'Already paused:'} ${slug}: ${countsLine(status)}\n`);
      }),
    );

  program
    .command('resume')
    .argument('<issue>', 'issue slug')
    .description('resume a paused send (`newsletter serve` continues it within a minute; or run `newsletter send`)')
    .action((slug: string) =>
      userErrors(async () => {
        const status = await resumeSend(await ctx.services(), slug);
        ctx.stdout.write(
          `${status.changed ? 'Resumed' : 'Already sending:'} ${slug}: ${countsLine(status)}\n` +
            (status.senders.some((s) => s.alive)
              ? ''
              : `  No sender is running: start \`newsletter worker\` or \`newsletter serve\`, or run \`newsletter send ${slug}\`.\n`),
        );
      }),
    );

  program
    .command('cancel')
    .argument('<issue>', 'issue slug')
    .description('cancel a scheduled or running send; what was not sent is skipped')
    .action((slug: string) =>
      userErrors(async () => {
        const status = await cancelSend(await ctx.services(), slug);
        ctx.stdout.write(`${status.changed ? 'Cancelled' : 'Already cancelled:'} ${slug}: ${countsLine(status)}\n`);
      }),
    );
};
