import { Router } from 'express';
import type { Services } from '../app/services.js';
import { parseTopicList } from '../cli/context.js';
import { getIssueRow } from '../content/content-repository.js';

/** The public archive: web versions of sent issues. Drafts and scheduled issues are not public. */
export function createIssuesRouter(services: Services): Router {
  const router = Router();
  router.get('/issues/:slug', async (req, res, next) => {
    const issue = await getIssueRow(services.db, req.params.slug);
    if (!issue || issue.status !== 'sent') return next();
    const topics = parseTopicList(typeof req.query.topics === 'string' ? req.query.topics : undefined);
    res.type('html').send(await services.renderer.renderWeb(issue.slug, topics));
  });
  return router;
}
