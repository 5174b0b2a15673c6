import { Router } from 'express';
import type { AdminContext } from '../context.js';
import { createDemoSettingsRouter } from './demo-routes.js';
import { createEditorSettingsRouter } from './editor-routes.js';
import { createPublicationSettingsRouter } from './publication-routes.js';
import { createTopicSettingsRouter } from './topic-routes.js';
import { createTrackingSettingsRouter } from './tracking-routes.js';

/** Admin-only (the app checks the role before any of these): publication and glossary, topics, editors, the demo. */
export function createSettingsRouter(ctx: AdminContext): Router {
  const router = Router();
  router.use(createPublicationSettingsRouter(ctx));
  router.use(createTopicSettingsRouter(ctx));
  router.use(createEditorSettingsRouter(ctx));
  router.use(createDemoSettingsRouter(ctx));
  router.use(createTrackingSettingsRouter(ctx));
  return router;
}
