import { Router, type Request, type Response } from 'express';
import { handle, type AdminContext } from '../editors/context.js';
import { renderAdminPage } from '../editors/page.js';
import { listTopics } from '../src/content/content-repository.js';
import type { Topic } from '../src/content/types.js';
import { HONEYPOT_FIELD } from '../subscribers/embed.js';

// Settings → Sign-up form: the HTML a publication pastes into its own website to sign people up
// (posting to /embed/subscribe), with the optional script for an inline answer, and which origins
// EMBED_ORIGINS allows.

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** The snippet: a plain form that works without the script; the script only answers inline. */
export function embedSnippet(baseUrl: string, topics: readonly Pick<Topic, 'slug' | 'name'>[]): string {
  const boxes = topics.map(
    (t) =>
      `    <label><input type="checkbox" name="topics" value="${escapeHtml(t.slug)}"> ${escapeHtml(t.name)}</label>`,
  );
  return [
    `<form action="${escapeHtml(baseUrl)}/embed/subscribe" method="post" data-newsletter-embed>`,
    '  <label for="newsletter-email">Email address</label>',
    '  <input id="newsletter-email" name="email" type="email" required autocomplete="email">',
    '  <label for="newsletter-name">Name (optional)</label>',
    '  <input id="newsletter-name" name="name" autocomplete="name">',
    ...(topics.length > 0
      ? ['  <fieldset>', '    <legend>Topics (choose none to get them all)</legend>', ...boxes, '  </fieldset>']
      : []),
    '  <div aria-hidden="true" style="position:absolute;left:-10000px">',
    `    <label>Leave this empty <input name="${HONEYPOT_FIELD}" value="" tabindex="-1" autocomplete="off"></label>`,
    '  </div>',
    '  <button type="submit">Subscribe</button>',
    '  <p data-newsletter-status role="status"></p>',
    '</form>',
    `<script src="${escapeHtml(baseUrl)}/embed/subscribe.js" async></script>`,
  ].join('\n');
}

async function showEmbed(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const { config, db } = ctx.services;
  await renderAdminPage(
    ctx,
    req,
    res,
    'settings/embed',
    { tab: 'embed', snippet: embedSnippet(config.baseUrl, await listTopics(db)), origins: config.embedOrigins },
    { title: 'Sign-up form for your website', section: 'settings' },
  );
}

/** Mounted by the web root into the editors' app (see createAdminRouter's extensions). */
export function createEmbedAdminRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get('/settings/embed', handle(ctx, showEmbed));
  return router;
}
