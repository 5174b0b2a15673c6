import { Router, type Request, type Response } from 'express';
import { listTopics } from '../../src/content/content-repository.js';
import type { SubscriberStatus } from '../../src/db/schema.js';
import {
  countSubscribersByStatus,
  findSubscriberByUid,
  listAllSubscribers,
  listConsentLog,
  listDeliveriesOf,
} from '../../subscribers/subscriber-repository.js';
import { CsvImportError, importSubscribersCsv, type CsvImportReport } from '../../subscribers/csv-import.js';
import { exportSubscribersCsv } from '../../subscribers/csv-export.js';
import type { AdminContext } from '../context.js';
import { adminState, field, notFound } from '../context.js';
import { renderAdminPage } from '../page.js';
import { listSubscriberFeedback } from '../../scheduler/bounces/feedback-repository.js';
import { feedbackView } from '../issues/feedback-routes.js';
import { formatCount, formatTime } from '../format.js';

const STATUSES: readonly SubscriberStatus[] = ['active', 'pending', 'unsubscribed', 'bounced', 'complained'];
const PAGE_SIZE = 100;

export function createSubscriberAdminRouter(ctx: AdminContext): Router {
  const router = Router();
  const { services } = ctx;
  const tz = services.config.scheduleTz;

  const showList = async (
    req: Request,
    res: Response,
    extra: { importReport?: CsvImportReport; importError?: string; status?: number } = {},
  ) => {
    const topics = await listTopics(services.db);
    const all = await listAllSubscribers(services.db);
    const q = field(req.query, 'q').trim().toLowerCase();
    const status = field(req.query, 'status');
    const topic = field(req.query, 'topic');
    const page = Math.max(1, Number(field(req.query, 'page')) || 1);
    const matches = all.filter(
      (s) =>
        (!q || s.email.includes(q) || s.name.toLowerCase().includes(q)) &&
        (!status || s.status === status) &&
        (!topic || (topic === '*' ? s.topicSlugs.length === 0 : s.topicSlugs.includes(topic))),
    );
    const byStatus = await countSubscribersByStatus(services.db);
    const active = all.filter((s) => s.status === 'active');
    const name = new Map(topics.map((t) => [t.slug, t.name]));
    const shown = matches.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    const query = (p: number) => `?${new URLSearchParams({ q, status, topic, page: String(p) }).toString()}`;
    await renderAdminPage(
      ctx,
      req,
      res,
      'subscribers/list',
      {
        filter: { q, status, topic },
        statusOptions: STATUSES.map((s) => ({ value: s, selected: s === status })),
        topicOptions: topics.map((t) => ({ value: t.slug, name: t.name, selected: t.slug === topic })),
        wholeSelected: topic === '*',
        statusCounts: STATUSES.map((s) => ({ status: s, count: formatCount(byStatus[s]) })),
        total: formatCount(all.length),
        topicCounts: [
          ...topics.map((t) => ({
            name: t.name,
            count: formatCount(active.filter((s) => s.topicSlugs.includes(t.slug)).length),
          })),
          {
            name: 'No topic chosen (everything)',
            count: formatCount(active.filter((s) => s.topicSlugs.length === 0).length),
          },
        ],
        matchCount: formatCount(matches.length),
        subscribers: shown.map((s) => ({
          uid: s.uid,
          email: s.email,
          name: s.name,
          status: s.status,
          topics: s.topicSlugs.length ? s.topicSlugs.map((t) => name.get(t) ?? t).join(', ') : 'everything',
          since: formatTime(s.confirmedAt ?? s.createdAt, tz),
        })),
        previous: page > 1 ? query(page - 1) : null,
        next: page * PAGE_SIZE < matches.length ? query(page + 1) : null,
        importReport: extra.importReport && {
          ...extra.importReport,
          ok: extra.importReport.rejected.length === 0,
        },
        importError: extra.importError,
      },
      { title: 'Subscribers', section: 'subscribers', status: extra.status },
    );
  };

  router.get('/subscribers', (req, res) => showList(req, res));

  router.get('/subscribers/export.csv', async (_req, res) => {
    const csv = await exportSubscribersCsv(services.db);
    const day = new Date().toISOString().slice(0, 10);
    res.setHeader('Content-Disposition', `attachment; filename="subscribers-${day}.csv"`);
    res.type('text/csv; charset=utf-8').send(csv);
  });

  /** CSV import with the CLI's rules (the subscribers module's importer) and its per-row report. */
  router.post('/subscribers/import', async (req, res) => {
    const state = adminState(req);
    if (state.uploadError) return showList(req, res, { importError: state.uploadError, status: 400 });
    const files = Array.isArray(req.files) ? req.files : [];
    const file = files.find((f) => f.fieldname === 'csv' && f.originalname !== '');
    const pasted = field(req.body, 'csvText');
    const text = file ? file.buffer.toString('utf8') : pasted;
    if (text.trim() === '') {
      return showList(req, res, {
        importError: 'Choose a CSV file (header email,name,topics) or paste its content.',
        status: 400,
      });
    }
    try {
      const report = await importSubscribersCsv(services.db, services.config.secretKey, text);
      services.logger.info(
        {
          editor: state.session.editor.id,
          added: report.added,
          updated: report.updated,
          rejected: report.rejected.length,
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
        consent: (await listConsentLog(services.db, subscriber.id)).map((e) => ({ ...e, when: formatTime(e.at, tz) })),
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
