import { Router, type Request, type Response } from 'express';
import { listTopics } from '../../src/content/content-repository.js';
import type { SubscriberStatus } from '../../src/db/schema.js';
import {
  findSubscriberByUid,
  listConsentLog,
  listDeliveriesOf,
  WITHDRAWN_STATUSES,
} from '../../subscribers/subscriber-repository.js';
import {
  countMatching,
  listSubscriberPage,
  type PageCursor,
  type SubscriberFilter,
} from '../../subscribers/subscriber-listing.js';
import { CsvImportError, keptRowHints, keptRowText, type CsvImportReport } from '../../subscribers/csv-import.js';
import { importSubscribersCsvInThread } from '../../subscribers/csv-import-thread.js';
import { exportSubscribersCsv } from '../../subscribers/csv-export.js';
import type { AdminContext } from '../context.js';
import { adminState, field, notFound } from '../context.js';
import { renderAdminPage } from '../page.js';
import { listSubscriberFeedback } from '../../scheduler/bounces/feedback-repository.js';
import { feedbackView } from '../issues/feedback-routes.js';
import { consentEntryView } from './consent-view.js';
import { createSubscriberActionsRouter, topicChoicesFor } from './subscriber-actions.js';
import { formatCount, formatTime } from '../format.js';

const STATUSES: readonly SubscriberStatus[] = ['active', 'pending', 'unsubscribed', 'bounced', 'complained'];
const PAGE_SIZE = 100;
/** Matches are counted up to this many; past it the page says "More than 10,000". */
const MATCH_COUNT_CAP = 10_000;

/** `?older=<id>` or `?newer=<id>`: the page after or before the one that ended at that id. */
function cursorFrom(req: Request): PageCursor {
  const older = field(req.query, 'older');
  const newer = field(req.query, 'newer');
  if (/^\d{1,15}$/.test(older)) return { olderThan: Number(older) };
  if (/^\d{1,15}$/.test(newer)) return { newerThan: Number(newer) };
  return null;
}

function cursorParam(cursor: Exclude<PageCursor, null>): Record<string, string> {
  return 'olderThan' in cursor ? { older: String(cursor.olderThan) } : { newer: String(cursor.newerThan) };
}
/** Encodings an uploaded file may be declared in; '' detects UTF-8 and UTF-16 (csv-encoding.ts). */
const IMPORT_ENCODINGS = [
  { value: '', label: 'Detect (UTF-8 or UTF-16)' },
  { value: 'windows-1252', label: 'Windows-1252 / Latin-1 (Western Europe)' },
  { value: 'iso-8859-15', label: 'ISO-8859-15 (Latin-9)' },
  { value: 'windows-1250', label: 'Windows-1250 (Central Europe)' },
  { value: 'windows-1251', label: 'Windows-1251 (Cyrillic)' },
  { value: 'shift_jis', label: 'Shift JIS (Japanese)' },
  { value: 'gb18030', label: 'GB 18030 (Chinese)' },
] as const;

export function createSubscriberAdminRouter(ctx: AdminContext): Router {
  const router = Router();
  const { services } = ctx;
  const tz = services.config.scheduleTz;

  const counts = ctx.subscriberCounts;

  const showList = async (
    req: Request,
    res: Response,
    extra: { importReport?: CsvImportReport; importError?: string; status?: number } = {},
  ) => {
    const topics = await listTopics(services.db);
    const q = field(req.query, 'q').trim().toLowerCase().slice(0, 200);
    const status = STATUSES.find((s) => s === field(req.query, 'status'));
    const topic = field(req.query, 'topic');
    const filter: SubscriberFilter = { q: q || undefined, status, topic: topic || undefined };
    const page = await listSubscriberPage(services.db, filter, cursorFrom(req), PAGE_SIZE);
    const { byStatus, total, topics: topicCounts } = await counts.current();
    const filtering = q !== '' || topic !== '';
    const matches = filtering
      ? await countMatching(services.db, filter, MATCH_COUNT_CAP)
      : { count: status ? byStatus[status] : total, capped: false };
    const name = new Map(topics.map((t) => [t.slug, t.name]));
    const link = (cursor: PageCursor) =>
      cursor && `?${new URLSearchParams({ q, status: status ?? '', topic, ...cursorParam(cursor) }).toString()}`;
    await renderAdminPage(
      ctx,
      req,
      res,
      'subscribers/list',
      {
        filter: { q, status: status ?? '', topic },
        statusOptions: STATUSES.map((s) => ({ value: s, selected: s === status })),
        topicOptions: topics.map((t) => ({ value: t.slug, name: t.name, selected: t.slug === topic })),
        wholeSelected: topic === '*',
        statusCounts: STATUSES.map((s) => ({ status: s, count: formatCount(byStatus[s]) })),
        total: formatCount(total),
        topicCounts: [
          ...topics.map((t) => ({ name: t.name, count: formatCount(topicCounts.byTopic.get(t.id) ?? 0) })),
          { name: 'No topic chosen (everything)', count: formatCount(topicCounts.noTopic) },
        ],
        matchCount: `${matches.capped ? 'More than ' : ''}${formatCount(matches.count)}`,
        oneMatch: matches.count === 1 && !matches.capped,
        subscribers: page.subscribers.map((s) => ({
          uid: s.uid,
          email: s.email,
          name: s.name,
          status: s.status,
          topics: s.topicSlugs.length ? s.topicSlugs.map((t) => name.get(t) ?? t).join(', ') : 'everything',
          since: formatTime(s.confirmedAt ?? s.createdAt, tz),
        })),
        previous: link(page.newer),
        next: link(page.older),
        importReport: extra.importReport && {
          ...extra.importReport,
          ok: extra.importReport.rejected.length === 0,
          keptLines: extra.importReport.kept.map(keptRowText),
          keptHints: keptRowHints(extra.importReport.kept, 'tick “Overwrite” and import again'),
        },
        importError: extra.importError,
        encodings: IMPORT_ENCODINGS,
      },
      { title: 'Subscribers', section: 'subscribers', status: extra.status },
    );
  };

  router.get('/subscribers', (req, res) => showList(req, res));
  router.use(createSubscriberActionsRouter(ctx));

  router.get('/subscribers/export.csv', async (_req, res) => {
    const csv = await exportSubscribersCsv(services.db);
    const day = new Date().toISOString().slice(0, 10);
    res.setHeader('Content-Disposition', `attachment; filename="subscribers-${day}.csv"`);
    res.type('text/csv; charset=utf-8').send(csv);
  });

  /**
   * CSV import with the CLI's rules (the subscribers module's importer) and its per-row report, in a
   * thread of its own so the server keeps answering (csv-import-thread.ts).
   */
  router.post('/subscribers/import', async (req, res) => {
    const state = adminState(req);
    if (state.uploadError) return showList(req, res, { importError: state.uploadError, status: 400 });
    const files = Array.isArray(req.files) ? req.files : [];
    const file = files.find((f) => f.fieldname === 'csv' && f.originalname !== '');
    const pasted = field(req.body, 'csvText');
    const encoding = IMPORT_ENCODINGS.find((e) => e.value === field(req.body, 'encoding'))?.value;
    if (!file && pasted.trim() === '') {
      return showList(req, res, {
        importError: 'Choose a CSV file (header email,name,topics) or paste its content.',
        status: 400,
      });
    }
    try {
      const report = await importSubscribersCsvInThread({
        databaseUrl: services.config.databaseUrl,
        secretKey: services.config.secretKey,
        input: file ? file.buffer : pasted,
        options: { encoding: encoding || undefined, overwrite: field(req.body, 'overwrite') === 'yes' },
      });
      services.logger.info(
        {
          editor: state.session.editor.id,
          added: report.added,
          updated: report.updated,
          rejected: report.rejected.length,
          kept: report.kept.length,
          overwrite: field(req.body, 'overwrite') === 'yes',
        },
        'subscribers imported',
      );
      await showList(req, res, { importReport: report, status: report.rejected.length ? 422 : 200 });
    } catch (error) {
      if (!(error instanceof CsvImportError)) throw error;
      await showList(req, res, { importError: error.message, status: 400 });
    }
  });

  router.get('/subscribers/:uid', async (req, res) => {
    const uid = req.params.uid;
    const subscriber = typeof uid === 'string' ? await findSubscriberByUid(services.db, uid) : undefined;
    if (!subscriber) throw notFound('This subscriber');
    const topics = await listTopics(services.db);
    const name = new Map(topics.map((t) => [t.slug, t.name]));
    await renderAdminPage(
      ctx,
      req,
      res,
      'subscribers/detail',
      {
        subscriber: {
          ...subscriber,
          topics: subscriber.topicSlugs.length
            ? subscriber.topicSlugs.map((t) => name.get(t) ?? t).join(', ')
            : 'everything (no topic chosen)',
          created: formatTime(subscriber.createdAt, tz),
          confirmed: formatTime(subscriber.confirmedAt, tz),
          unsubscribed: formatTime(subscriber.unsubscribedAt, tz),
        },
        topicChoices: await topicChoicesFor(ctx, subscriber),
        editable: !WITHDRAWN_STATUSES.includes(subscriber.status),
        pending: subscriber.status === 'pending',
        consent: (await listConsentLog(services.db, subscriber.id)).map((e) => ({
          ...e,
          ...consentEntryView(e, (slug) => name.get(slug) ?? slug),
          when: formatTime(e.at, tz),
        })),
        feedback: (await listSubscriberFeedback(services.db, subscriber.id, 100)).map((e) => feedbackView(e, tz)),
        deliveries: (await listDeliveriesOf(services.db, subscriber.id)).map((d) => ({
          ...d,
          when: formatTime(d.sentAt ?? d.createdAt, tz),
        })),
      },
      { title: subscriber.email, section: 'subscribers' },
    );
  });

  return router;
}
