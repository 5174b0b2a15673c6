import { Router, type Request, type Response } from 'express';
import { adminState, type AdminContext, handle, HttpError, redirectSeeOther } from '../context.js';
import { renderAdminPage } from '../page.js';
import { DemoInUseError, demoRemovalProblem, findDemoContent, removeDemo, removedNothing } from '../demo-removal.js';

// Settings → Demo: what the demo left in the database, and the button that removes it.

async function showDemo(ctx: AdminContext, req: Request, res: Response, error?: string): Promise<void> {
  const content = await findDemoContent(ctx.services.db);
  await renderAdminPage(
    ctx,
    req,
    res,
    'settings/demo',
    {
      tab: 'demo',
      content: content && {
        issue: content.issue,
        articles: content.articleIds.length,
        topics: content.topics.map((t) => t.name).join(', '),
        glossary: content.glossary.join(', '),
        publication: content.publication,
        subscribers: content.trialSubscriberIds.length,
        keptArticles: content.keptArticles.join(', '),
      },
      problem: error ?? (content ? demoRemovalProblem(content, 'app') : undefined),
    },
    { title: 'Demo', section: 'settings', status: error ? 409 : 200 },
  );
}

async function removeDemoContent(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  try {
    const report = await removeDemo(ctx.services.db, 'app');
    if (removedNothing(report)) {
      throw new HttpError(409, 'Nothing of the demo is left.');
    }
    ctx.services.renderer.invalidate();
    ctx.services.logger.info({ by: adminState(req).session.editor.id, ...report }, 'demo removed');
  } catch (error) {
    if (!(error instanceof DemoInUseError)) throw error;
    return showDemo(ctx, req, res, error.message);
  }
  redirectSeeOther(res, '/admin?notice=demo-removed');
}

export function createDemoSettingsRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get(
    '/settings/demo',
    handle(ctx, (c, req, res) => showDemo(c, req, res)),
  );
  router.post('/settings/demo/remove', handle(ctx, removeDemoContent));
  return router;
}
