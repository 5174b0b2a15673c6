// One side of the send benchmark, run in its own process so its peak RSS is its own:
//
//   node --import tsx bench/send-worker.ts newsletter <dataDir> <smtpPort> <slug> [stopAfter]
//   node --import tsx bench/send-worker.ts plan       <dataDir> <smtpPort> <slug>
//   node --import tsx bench/send-worker.ts baseline   <dataDir> <smtpPort> <slug> <count> [nodelay]
//
// `newsletter` runs the real pipeline (`sendIssue`: plan, claim, build editions, fill, send, record);
// several of them at once share the send, as `newsletter send` does beside other senders; with
// `stopAfter`, it stops (as on SIGTERM) once it sent that many (a sender's memory on a long list
// without sending the whole list).
// `plan` only starts the send (`startSend`: plans every delivery and marks the issue sending), timed.
// `baseline` is plain pooled nodemailer sending prebuilt messages of the same size (taken from the
// same editions) with the same pool size, encoding and number of messages kept in flight;
// with `nodelay`, on the same TCP_NODELAY connections our messenger opens (a like-for-like check).
// Prints one JSON line with the figures. BENCH_WORKER_DATABASE_URL (set by the benchmark, never
// the user's DATABASE_URL) puts the database on PostgreSQL; else it is SQLite in <dataDir>.
import { sql } from 'kysely';
import nodemailer from 'nodemailer';
import { createLogger } from '../src/log/logger.js';
import { openServices } from '../src/app/services.js';
import { loadConfig } from '../src/config/config.js';
import { topicSlugsFromKey } from '../src/content/editions.js';
import { getPublication } from '../src/content/content-repository.js';
import { sendIssue, startSend } from '../scheduler/send-control.js';
import { MessageBuilder } from '../scheduler/message-builder.js';
import { subscriberLinks } from '../subscribers/tokens.js';
import { defaultTuning } from '../scheduler/send-manager.js';
import { noDelayConnection, type OutgoingMessage } from '../src/mail/messenger.js';

const [mode, dataDir, port, slug, countText, variant] = process.argv.slice(2);
if (!mode || !dataDir || !port || !slug)
  throw new Error('usage: send-worker.ts newsletter|plan|baseline <dataDir> <smtpPort> <slug> [count]');

const config = loadConfig({
  DATA_DIR: dataDir,
  SMTP_URL: `smtp://127.0.0.1:${port}`,
  SECRET_KEY: 'bench-secret-key-0123456789abcdef0123456789abcdef',
  BASE_URL: 'https://news.example.org',
  MAIL_FROM: 'Newsletter <news@example.org>',
  SCHEDULE_TZ: 'UTC',
  ...(process.env.SEND_CONCURRENCY ? { SEND_CONCURRENCY: process.env.SEND_CONCURRENCY } : {}),
  ...(process.env.BENCH_WORKER_DATABASE_URL ? { DATABASE_URL: process.env.BENCH_WORKER_DATABASE_URL } : {}),
});
const services = await openServices(config, { logger: createLogger('silent') });
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
// Where the memory is: peaks of the JS heap and of Buffers (outside the heap), sampled.
const peak = { heapUsed: 0, heapTotal: 0, external: 0 };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
  peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
  peak.external = Math.max(peak.external, m.external);
}, 100);
sampler.unref();
const memory = () => ({
  peakHeapUsedMb: mb(peak.heapUsed),
  peakHeapTotalMb: mb(peak.heapTotal),
  peakExternalMb: mb(peak.external),
});
/** CPU seconds (user + system) this process spent since `from`. */
const cpuSince = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
};

if (mode === 'newsletter') {
  const started = performance.now();
  const startedAt = new Date();
  const cpu = process.cpuUsage();
  const stopAfter = Number(countText ?? Infinity);
  const stop = new AbortController();
  const report = await sendIssue(services, slug, {
    signal: stop.signal,
    onProgress: (progress) => {
      if (progress.sentThisRun >= stopAfter) stop.abort();
    },
  });
  const cpuSeconds = cpuSince(cpu);
  const seconds = (performance.now() - started) / 1000;
  const result = {
    mode,
    outcome: report.outcome,
    sent: report.sentThisRun,
    seconds,
    perSecond: report.sentThisRun / seconds,
    cpuSeconds,
    firstMessageMs: report.firstSentAt ? report.firstSentAt.getTime() - startedAt.getTime() : null,
    editionsBuilt: report.editionsBuilt,
    mjmlCompiles: services.renderer.compileCount,
    peakRssMb: mb(process.resourceUsage().maxRSS * 1024),
    ...memory(),
    counts: report.counts,
  };
  await services.close();
  process.stdout.write(JSON.stringify(result) + '\n');
} else if (mode === 'plan') {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const status = await startSend(services, slug);
  const seconds = (performance.now() - started) / 1000;
  const result = {
    mode,
    planned: status.counts.planned,
    sent: 0,
    seconds,
    perSecond: status.counts.planned / seconds,
    cpuSeconds: cpuSince(cpu),
    firstMessageMs: null,
    peakRssMb: mb(process.resourceUsage().maxRSS * 1024),
    ...memory(),
  };
  await services.close();
  process.stdout.write(JSON.stringify(result) + '\n');
} else if (mode === 'baseline') {
  const count = Number(countText ?? '0');
  // Prebuilt before the clock starts: real messages of this issue, across its editions.
  const rows = await services.db
    .selectFrom('deliveries')
    .innerJoin('subscribers', 'subscribers.id', 'deliveries.subscriber_id')
    .select(['deliveries.edition_key', 'subscribers.id', 'subscribers.uid', 'subscribers.email', 'subscribers.name'])
    .where('deliveries.edition_key', '!=', '')
    // A random sample, so sizes follow the mix of editions of the real send.
    .orderBy(sql`random()`)
    .limit(100)
    .execute();
  const builder = new MessageBuilder({ config, publicationName: (await getPublication(services.db)).name });
  const prebuilt: (OutgoingMessage & { html: string; text: string })[] = [];
  for (const row of rows) {
    const edition = await services.renderer.edition(slug, topicSlugsFromKey(row.edition_key));
    // Plain strings: nodemailer does all the MIME work, as a plain pooled sender would.
    const body = edition.fill({
      name: row.name,
      email: row.email,
      webUrl: edition.webUrl,
      ...subscriberLinks(config, row.uid),
    });
    prebuilt.push({ ...builder.build(edition, row), html: body.html, text: body.text });
  }
  if (prebuilt.length === 0) throw new Error('no planned deliveries to copy message sizes from');
  const concurrency = config.sendConcurrency;
  const transporter = nodemailer.createTransport({
    pool: true,
    maxConnections: concurrency,
    maxMessages: Infinity,
    host: '127.0.0.1',
    port: Number(port),
    secure: false,
    ...(variant === 'nodelay' ? { getSocket: noDelayConnection } : {}),
  });
  const inFlight = defaultTuning(concurrency).inFlight;
  let next = 0;
  let sent = 0;
  const started = performance.now();
  let firstMs: number | null = null;
  const cpu = process.cpuUsage();
  const worker = async () => {
    while (next < count) {
      const m = prebuilt[next++ % prebuilt.length] as (typeof prebuilt)[number];
      await transporter.sendMail({
        from: config.mailFrom,
        to: m.to,
        subject: m.subject,
        html: m.html,
        text: m.text,
        messageId: m.messageId,
        headers: m.headers,
        textEncoding: 'quoted-printable',
      });
      sent++;
      firstMs ??= performance.now() - started;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuSince(cpu);
  transporter.close();
  await services.close();
  process.stdout.write(
    JSON.stringify({
      mode: variant === 'nodelay' ? 'baseline-nodelay' : mode,
      sent,
      seconds,
      perSecond: sent / seconds,
      cpuSeconds,
      firstMessageMs: firstMs,
      peakRssMb: mb(process.resourceUsage().maxRSS * 1024),
      ...memory(),
    }) + '\n',
  );
} else {
  throw new Error(`unknown mode ${mode}`);
}
