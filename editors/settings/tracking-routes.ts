import { Router, type Request, type Response } from 'express';
import { adminState, field, handle, redirectSeeOther, type AdminContext } from '../context.js';
import { renderAdminPage } from '../page.js';
import {
  getTrackingSettings,
  setTrackingSettings,
  TRACKING_LEVELS,
  type TrackingLevel,
} from '../../src/tracking/tracking-repository.js';

// Settings → Tracking (admins only): the publication's click tracking level and the open pixel
// switch (README: Engagement analytics). A change applies to the next send or test copy.

const LEVEL_HELP: Record<TrackingLevel, { label: string; help: string }> = {
  off: { label: 'Off', help: 'Links in emails go straight to their address; nothing is counted.' },
  aggregate: {
    label: 'Counts only (default)',
    help: 'Links go through this service, which counts clicks per issue, edition and link. No click is tied to a person.',
  },
  individual: {
    label: 'Per reader, for readers who agree',
    help: 'As counts only, and for the readers who turned it on on their preferences page, which links they clicked (in their data export; erased with them). Everyone else is only counted.',
  },
};

async function showTracking(ctx: AdminContext, req: Request, res: Response, status = 200): Promise<void> {
  const settings = await getTrackingSettings(ctx.services.db);
  await renderAdminPage(
    ctx,
    req,
    res,
    'settings/tracking',
    {
      tab: 'tracking',
      levels: TRACKING_LEVELS.map((value) => ({ value, ...LEVEL_HELP[value], checked: settings.level === value })),
      trackOpens: settings.trackOpens,
      error: status === 400 ? 'Choose one of the tracking levels.' : undefined,
    },
    { title: 'Tracking', section: 'settings', status },
  );
}

async function saveTracking(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const level = TRACKING_LEVELS.find((l) => l === field(req.body, 'level'));
  if (!level) return showTracking(ctx, req, res, 400);
  const trackOpens = field(req.body, 'opens') === 'on';
  await setTrackingSettings(ctx.services.db, { level, trackOpens });
  ctx.services.logger.info({ by: adminState(req).session.editor.id, level, trackOpens }, 'tracking settings changed');
  redirectSeeOther(res, '/admin/settings/tracking?notice=saved');
}

export function createTrackingSettingsRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get(
    '/settings/tracking',
    handle(ctx, (c, req, res) => showTracking(c, req, res)),
  );
  router.post('/settings/tracking', handle(ctx, saveTracking));
  return router;
}
