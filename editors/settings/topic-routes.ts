import { Router, type Request, type Response } from 'express';
import { listTopics } from '../../src/content/content-repository.js';
import { topicSlug } from '../../src/content/slug.js';
import type { Topic } from '../../src/content/types.js';
import { type AdminContext, field, handle, HttpError, redirectSeeOther } from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatCount } from '../format.js';
import { countTopicUse, issuesInFlight, saveTopicOrder, topicSlugOwner, updateTopic } from '../settings-repository.js';

// Settings → Topics: rename, describe and order the topics readers choose from.

interface TopicsPageState {
  errors?: Record<string, string>;
  values?: Record<string, { name: string; description: string }>;
  status?: number;
}

async function showTopics(ctx: AdminContext, req: Request, res: Response, state: TopicsPageState = {}): Promise<void> {
  const { db } = ctx.services;
  const topics = await listTopics(db);
  const use = await countTopicUse(db);
  await renderAdminPage(
    ctx,
    req,
    res,
    'settings/topics',
    {
      tab: 'topics',
      topics: topics.map((t, i) => ({
        ...t,
        name: state.values?.[t.id]?.name ?? t.name,
        description: state.values?.[t.id]?.description ?? t.description,
        error: state.errors?.[t.id],
        errorId: `topic-${t.id}`,
        first: i === 0,
        last: i === topics.length - 1,
        subscribers: formatCount(use.get(t.id)?.subscribers ?? 0),
        articles: formatCount(use.get(t.id)?.articles ?? 0),
      })),
    },
    { title: 'Topics', section: 'settings', status: state.status },
  );
}

/** One form holds every topic; the pressed button (`op`) says which topic and what to do. */
async function changeTopic(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const op = /^(save|up|down):(\d+)$/.exec(field(req.body, 'op'));
  if (!op) throw new HttpError(400, 'Unknown change; reload the page and try again.');
  const [, action, idText] = op;
  const topics = await listTopics(ctx.services.db);
  const topic = topics.find((t) => t.id === Number(idText));
  if (!topic) throw new HttpError(404, 'This topic does not exist.');
  if (action === 'up' || action === 'down') return moveTopic(ctx, res, topics, topic, action);
  return saveTopic(ctx, req, res, topic);
}

async function moveTopic(
  ctx: AdminContext,
  res: Response,
  topics: Topic[],
  topic: Topic,
  direction: 'up' | 'down',
): Promise<void> {
  const ids = topics.map((t) => t.id);
  const i = ids.indexOf(topic.id);
  const j = direction === 'up' ? i - 1 : i + 1;
  if (j >= 0 && j < ids.length) {
    [ids[i], ids[j]] = [ids[j] as number, ids[i] as number];
    await saveTopicOrder(ctx.services.db, ids);
    ctx.services.renderer.invalidate();
  }
  redirectSeeOther(res, `/admin/settings/topics#topic-${topic.id}`);
}

/** What is wrong with a new name for `topic`, if anything. */
async function renameProblem(
  ctx: AdminContext,
  topic: Topic,
  name: string,
  slug: string,
  description: string,
): Promise<string | undefined> {
  if (!slug) return 'A topic name needs at least one letter or digit.';
  if (name.length > 100) return 'The name is longer than 100 characters.';
  if (description.length > 1000) return 'The description is longer than 1,000 characters.';
  if (slug === topic.slug) return undefined;
  const owner = await topicSlugOwner(ctx.services.db, slug);
  if (owner !== undefined && owner !== topic.id)
    return `Another topic already has the address “${slug}”; choose a different name.`;
  const sending = await issuesInFlight(ctx.services.db);
  if (sending.length) {
    return `Issue ${sending.join(', ')} is being sent with the current topic addresses; rename after it finishes (the description can change now).`;
  }
  return undefined;
}

async function saveTopic(ctx: AdminContext, req: Request, res: Response, topic: Topic): Promise<void> {
  const name = field(req.body, `name_${topic.id}`).trim().replace(/\s+/g, ' ');
  const description = field(req.body, `description_${topic.id}`).trim();
  const slug = topicSlug(name);
  const error = await renameProblem(ctx, topic, name, slug, description);
  if (error) {
    return showTopics(ctx, req, res, {
      errors: { [topic.id]: error },
      values: { [topic.id]: { name, description } },
      status: 400,
    });
  }
  await updateTopic(ctx.services.db, topic.id, { name, slug, description });
  ctx.services.renderer.invalidate();
  redirectSeeOther(res, `/admin/settings/topics?notice=saved#topic-${topic.id}`);
}

export function createTopicSettingsRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get(
    '/settings/topics',
    handle(ctx, (c, req, res) => showTopics(c, req, res)),
  );
  router.post('/settings/topics', handle(ctx, changeTopic));
  return router;
}
