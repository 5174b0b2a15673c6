import { Router, type Request, type Response } from 'express';
import { listTopics } from '../../src/content/content-repository.js';
import { topicSlug } from '../../src/content/slug.js';
import type { Topic } from '../../src/content/types.js';
import { adminState, type AdminContext, field, handle, HttpError, redirectSeeOther } from '../context.js';
import { mergeTopics, TopicChangeError } from '../topic-merge.js';
import { renderAdminPage } from '../page.js';
import { formatCount } from '../format.js';
import {
  countTopicUse,
  deleteUnusedTopic,
  issuesInFlight,
  saveTopicOrder,
  topicSlugOwner,
  updateTopic,
} from '../settings-repository.js';

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
        unused: !use.get(t.id)?.subscribers && !use.get(t.id)?.articles && !use.get(t.id)?.issues,
        others: topics.filter((o) => o.id !== t.id).map((o) => ({ id: o.id, name: o.name })),
      })),
    },
    { title: 'Topics', section: 'settings', status: state.status },
  );
}

/** One form holds every topic; the pressed button (`op`) says which topic and what to do. */
async function changeTopic(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const op = /^(save|up|down|delete|merge):(\d+)$/.exec(field(req.body, 'op'));
  if (!op) throw new HttpError(400, 'Unknown change; reload the page and try again.');
  const [, action, idText] = op;
  const topics = await listTopics(ctx.services.db);
  const topic = topics.find((t) => t.id === Number(idText));
  if (!topic) throw new HttpError(404, 'This topic does not exist.');
  if (action === 'up' || action === 'down') return moveTopic(ctx, res, topics, topic, action);
  if (action === 'delete') return deleteTopic(ctx, req, res, topic);
  if (action === 'merge') return confirmMerge(ctx, req, res, topics, topic);
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

async function deleteTopic(ctx: AdminContext, req: Request, res: Response, topic: Topic): Promise<void> {
  const result = await deleteUnusedTopic(ctx.services.db, topic.id);
  if (result === 'in-use') {
    const error = 'This topic is in use (by articles, issues or subscribers); merge it into another topic instead.';
    return showTopics(ctx, req, res, { errors: { [topic.id]: error }, status: 409 });
  }
  ctx.services.renderer.invalidate();
  ctx.services.logger.info({ topic: topic.slug, by: adminState(req).session.editor.id }, 'topic deleted');
  redirectSeeOther(res, '/admin/settings/topics?notice=removed');
}

/** Merging cannot be undone: the first click shows what will move, the confirmation merges. */
async function confirmMerge(
  ctx: AdminContext,
  req: Request,
  res: Response,
  topics: Topic[],
  from: Topic,
): Promise<void> {
  const into = topics.find((t) => String(t.id) === field(req.body, `into_${from.id}`));
  if (!into || into.id === from.id) {
    const error = 'Choose the topic to merge it into.';
    return showTopics(ctx, req, res, { errors: { [from.id]: error }, status: 400 });
  }
  const use = (await countTopicUse(ctx.services.db)).get(from.id);
  await renderAdminPage(
    ctx,
    req,
    res,
    'settings/topic-merge',
    {
      tab: 'topics',
      from,
      into,
      subscribers: formatCount(use?.subscribers ?? 0),
      articles: formatCount(use?.articles ?? 0),
    },
    { title: `Merge ${from.name} into ${into.name}`, section: 'settings' },
  );
}

async function mergeTopic(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const topics = await listTopics(ctx.services.db);
  const from = topics.find((t) => String(t.id) === field(req.body, 'from'));
  const into = topics.find((t) => String(t.id) === field(req.body, 'into'));
  if (!from || !into) throw new HttpError(409, 'One of the topics no longer exists; reload the topics page.');
  const editor = adminState(req).session.editor;
  try {
    const report = await mergeTopics(ctx.services.db, from, into, { source: 'admin' });
    ctx.services.logger.info({ from: from.slug, into: into.slug, by: editor.id, ...report }, 'topics merged');
  } catch (error) {
    if (!(error instanceof TopicChangeError)) throw error;
    return showTopics(ctx, req, res, { errors: { [from.id]: error.message }, status: 409 });
  }
  ctx.services.renderer.invalidate();
  redirectSeeOther(res, `/admin/settings/topics?notice=merged#topic-${into.id}`);
}

export function createTopicSettingsRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get(
    '/settings/topics',
    handle(ctx, (c, req, res) => showTopics(c, req, res)),
  );
  router.post('/settings/topics', handle(ctx, changeTopic));
  router.post('/settings/topics/merge', handle(ctx, mergeTopic));
  return router;
}
