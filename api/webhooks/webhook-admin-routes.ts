import { Router, type Request, type Response } from 'express';
import {
  adminState,
  field,
  fieldList,
  handle,
  intParam,
  redirectSeeOther,
  type AdminContext,
} from '../../editors/context.js';
import { formatTime } from '../../editors/format.js';
import { renderAdminPage } from '../../editors/page.js';
import { OUTBOX_EVENT_TYPES } from '../../src/db/event-outbox.js';
import { createEndpoint, EndpointInputError, EVENT_HELP, MAX_DESCRIPTION_LENGTH } from './webhook-endpoints.js';
import { deleteEndpoint, deliveryCounts, listEndpoints, recentDeliveries } from './webhook-repository.js';

// Settings → Webhooks (admins only: mounted under /admin/settings): register an endpoint (its
// signing secret shown once), see each endpoint's latest deliveries with their last answer, remove.

const SHOWN_DELIVERIES = 10;

interface WebhooksPageState {
  created?: { url: string; secret: string };
  errors?: Record<string, string>;
  values?: { url: string; description: string; events: string[] };
  status?: number;
}

async function showWebhooks(
  ctx: AdminContext,
  req: Request,
  res: Response,
  state: WebhooksPageState = {},
): Promise<void> {
  const { db, config } = ctx.services;
  const tz = config.scheduleTz;
  const values = state.values ?? { url: '', description: '', events: [] };
  const time = (at: string | null) => (at ? formatTime(at, tz) : null);
  const endpoints = await Promise.all(
    (await listEndpoints(db)).map(async (e) => ({
      id: e.id,
      url: e.url,
      description: e.description,
      eventList: e.events.join(', '),
      created: formatTime(e.createdAt, tz),
      createdBy: e.createdBy,
      counts: await deliveryCounts(db, e.id),
      deliveries: (await recentDeliveries(db, e.id, SHOWN_DELIVERIES)).map((d) => ({
        ...d,
        lastAttempt: time(d.lastAttemptAt),
        nextAttempt: d.status === 'pending' ? time(d.nextAttemptAt) : null,
        answer: d.lastStatus === null ? (d.lastError ?? 'not tried yet') : `HTTP ${d.lastStatus}`,
      })),
    })),
  );
  await renderAdminPage(
    ctx,
    req,
    res,
    'settings/webhooks',
    {
      tab: 'webhooks',
      endpoints,
      events: OUTBOX_EVENT_TYPES.map((t) => ({ value: t, help: EVENT_HELP[t], checked: values.events.includes(t) })),
      values,
      maxDescriptionLength: MAX_DESCRIPTION_LENGTH,
      errors: state.errors ?? {},
      created: state.created,
    },
    { title: 'Webhooks', section: 'settings', status: state.status },
  );
}

async function addEndpoint(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const chosen = fieldList(req.body, 'events');
  const values = {
    url: field(req.body, 'url'),
    description: field(req.body, 'description'),
    events: OUTBOX_EVENT_TYPES.filter((t) => chosen.includes(t)),
  };
  try {
    const editor = adminState(req).session.editor;
    const endpoint = await createEndpoint(ctx.services.db, ctx.services.config.secretKey, {
      ...values,
      createdBy: editor.email,
    });
    ctx.services.logger.info(
      { by: editor.id, webhook: endpoint.id, events: endpoint.events },
      'webhook endpoint added',
    );
    await showWebhooks(ctx, req, res, { created: { url: endpoint.url, secret: endpoint.secret } });
  } catch (error) {
    if (!(error instanceof EndpointInputError)) throw error;
    await showWebhooks(ctx, req, res, { errors: { [error.field]: `${error.message}.` }, values, status: 400 });
  }
}

async function removeEndpoint(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const id = intParam(req, 'id');
  await deleteEndpoint(ctx.services.db, id);
  ctx.services.logger.info({ by: adminState(req).session.editor.id, webhook: id }, 'webhook endpoint removed');
  redirectSeeOther(res, '/admin/settings/webhooks?notice=saved');
}

/** Mounted by the web root into the editors' app (see createAdminRouter's extensions). */
export function createWebhookAdminRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get(
    '/settings/webhooks',
    handle(ctx, (c, req, res) => showWebhooks(c, req, res)),
  );
  router.post('/settings/webhooks', handle(ctx, addEndpoint));
  router.post('/settings/webhooks/:id/remove', handle(ctx, removeEndpoint));
  return router;
}
