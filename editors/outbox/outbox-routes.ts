import { Router } from 'express';
import type { AdminContext } from '../context.js';
import { field, notFound } from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatCount, formatTime } from '../format.js';
import { EMAIL_FRAME_CSP } from '../issues/preview-routes.js';
import { listOutbox, readOutboxMessage } from './outbox-reader.js';

const PAGE_SIZE = 50;

export function createOutboxRouter(ctx: AdminContext): Router {
  const router = Router();
  const { services } = ctx;
  const dir = services.config.outboxDir;
  const tz = services.config.scheduleTz;

  router.get('/outbox', async (req, res) => {
    const all = await listOutbox(dir);
    const page = Math.max(1, Number(field(req.query, 'page')) || 1);
    const shown = all.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    const messages = await Promise.all(
      shown.map(async (entry) => {
        const m = await readOutboxMessage(dir, entry.name);
        return {
          name: entry.name,
          to: m?.to ?? '',
          subject: m?.subject ?? '',
          when: formatTime(entry.modifiedAt, tz),
          size: formatCount(Math.ceil(entry.size / 1024)),
        };
      }),
    );
    await renderAdminPage(
      ctx,
      req,
      res,
      'outbox/list',
      {
        messages,
        total: formatCount(all.length),
        smtp: Boolean(services.config.smtpUrl),
        outboxDir: dir,
        previous: page > 1 ? `?page=${page - 1}` : null,
        next: page * PAGE_SIZE < all.length ? `?page=${page + 1}` : null,
      },
      { title: 'Outbox', section: 'outbox' },
    );
  });

  router.get('/outbox/:name', async (req, res) => {
    const message = await readOutboxMessage(dir, req.params.name ?? '');
    if (!message) throw notFound('This message');
    await renderAdminPage(
      ctx,
      req,
      res,
      'outbox/message',
      {
        message: { ...message, when: formatTime(message.date, tz) },
        htmlUrl: `/admin/outbox/${encodeURIComponent(message.name)}/html`,
      },
      { title: message.subject || message.name, section: 'outbox' },
    );
  });

  router.get('/outbox/:name/html', async (req, res) => {
    const message = await readOutboxMessage(dir, req.params.name ?? '');
    if (!message) throw notFound('This message');
    res.setHeader('Content-Security-Policy', EMAIL_FRAME_CSP);
    res
      .type('html')
      .send(
        message.html ??
          '<!doctype html><meta charset="utf-8"><title>No HTML</title><p>This message has no HTML part.</p>',
      );
  });

  router.get('/outbox/:name/raw', async (req, res) => {
    const message = await readOutboxMessage(dir, req.params.name ?? '');
    if (!message) throw notFound('This message');
    res.setHeader('Content-Disposition', `attachment; filename="${message.name}"`);
    res.type('message/rfc822').send(message.raw);
  });

  return router;
}
