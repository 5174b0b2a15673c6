import { Router, type Request, type Response } from 'express';
import {
  adminState,
  field,
  fieldList,
  handle,
  intParam,
  redirectSeeOther,
  type AdminContext,
} from '../editors/context.js';
import { formatTime } from '../editors/format.js';
import { renderAdminPage } from '../editors/page.js';
import { nowIso } from '../src/db/database.js';
import { listApiKeys, revokeApiKey } from './api-key-repository.js';
import { ApiKeyInputError, createApiKey, MAX_KEY_NAME_LENGTH } from './api-keys.js';
import { API_SCOPES, type ApiScope } from './scopes.js';

// Settings → API keys (admins only: mounted under /admin/settings, behind the app's role check):
// make a key (its text shown once, on this page, never in a URL), see each key's scopes and last
// use, revoke.

const SCOPE_HELP: Record<ApiScope, string> = {
  'subscribers:read': 'list and read subscribers',
  'subscribers:write': 'sign people up, change, unsubscribe and erase subscribers',
  'content:write': 'import issues, add and change articles',
  'issues:read': 'list issues and their send status',
  'issues:send': 'schedule, send, pause, resume and cancel issues',
  'stats:read': 'read counts (subscribers, clicks): never a person',
};

interface KeysPageState {
  created?: { name: string; text: string };
  errors?: Record<string, string>;
  values?: { name: string; scopes: string[] };
  status?: number;
}

async function showKeys(ctx: AdminContext, req: Request, res: Response, state: KeysPageState = {}): Promise<void> {
  const tz = ctx.services.config.scheduleTz;
  const values = state.values ?? { name: '', scopes: [] };
  await renderAdminPage(
    ctx,
    req,
    res,
    'settings/api-keys',
    {
      tab: 'api-keys',
      keys: (await listApiKeys(ctx.services.db)).map((k) => ({
        ...k,
        scopeList: k.scopes.join(', '),
        created: formatTime(k.createdAt, tz),
        lastUsed: k.lastUsedAt ? formatTime(k.lastUsedAt, tz) : 'never',
        revoked: k.revokedAt ? formatTime(k.revokedAt, tz) : null,
      })),
      scopes: API_SCOPES.map((s) => ({ value: s, help: SCOPE_HELP[s], checked: values.scopes.includes(s) })),
      values,
      maxNameLength: MAX_KEY_NAME_LENGTH,
      errors: state.errors ?? {},
      created: state.created,
      apiBase: `${ctx.services.config.baseUrl}/api/v1`,
    },
    { title: 'API keys', section: 'settings', status: state.status },
  );
}

async function makeKey(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const name = field(req.body, 'name');
  const chosen = fieldList(req.body, 'scopes');
  const scopes = API_SCOPES.filter((s) => chosen.includes(s));
  const values = { name, scopes };
  if (scopes.length === 0) {
    return showKeys(ctx, req, res, { errors: { scopes: 'Choose at least one scope.' }, values, status: 400 });
  }
  try {
    const editor = adminState(req).session.editor;
    const { key, text } = await createApiKey(ctx.services.db, { name, scopes, createdBy: editor.email });
    ctx.services.logger.info({ by: editor.id, apiKey: key.id, scopes }, 'API key created');
    await showKeys(ctx, req, res, { created: { name: key.name, text } });
  } catch (error) {
    if (!(error instanceof ApiKeyInputError)) throw error;
    await showKeys(ctx, req, res, { errors: { name: `${error.message}.` }, values, status: 400 });
  }
}

async function revokeKey(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const id = intParam(req, 'id');
  await revokeApiKey(ctx.services.db, id, nowIso());
  ctx.services.logger.info({ by: adminState(req).session.editor.id, apiKey: id }, 'API key revoked');
  redirectSeeOther(res, '/admin/settings/api-keys?notice=saved');
}

/** Mounted by the web root into the editors' app (see createAdminRouter's extensions). */
export function createApiKeyAdminRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get(
    '/settings/api-keys',
    handle(ctx, (c, req, res) => showKeys(c, req, res)),
  );
  router.post('/settings/api-keys', handle(ctx, makeKey));
  router.post('/settings/api-keys/:id/revoke', handle(ctx, revokeKey));
  return router;
}
