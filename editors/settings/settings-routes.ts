import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { getPublication, listGlossary, listTopics } from '../../src/content/content-repository.js';
import { topicSlug } from '../../src/content/slug.js';
import type { GlossaryEntry, Publication } from '../../src/content/types.js';
import type { EditorRole } from '../../src/db/schema.js';
import type { AdminContext } from '../context.js';
import { adminState, field, HttpError, redirectSeeOther } from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatCount, formatTime } from '../format.js';
import {
  countTopicUse,
  issuesInFlight,
  replaceGlossary,
  savePublication,
  saveTopicOrder,
  topicSlugOwner,
  updateTopic,
} from '../settings-repository.js';
import {
  countAdmins,
  deleteEditor,
  EDITOR_ROLES,
  EditorExistsError,
  findEditorById,
  insertEditor,
  listEditors,
  updateEditorRole,
} from '../editor-repository.js';
import { generatePassword, hashPassword } from '../auth/passwords.js';

const GLOSSARY_BLANK_ROWS = 3;
const emailSchema = z.email();

type Errors = Record<string, string>;

/** Admin-only (the router checks the role before any of these): publication, glossary, topics, editors. */
export function createSettingsRouter(ctx: AdminContext): Router {
  const router = Router();
  const { services } = ctx;
  const afterChange = () => services.renderer.invalidate();

  const showGeneral = async (
    req: Request,
    res: Response,
    state: {
      publication?: Publication;
      pubErrors?: Errors;
      glossary?: GlossaryEntry[];
      glossaryError?: string;
      status?: number;
    } = {},
  ) => {
    const glossary = state.glossary ?? (await listGlossary(services.db));
    await renderAdminPage(
      ctx,
      req,
      res,
      'settings/general',
      {
        tab: 'general',
        publication: state.publication ?? (await getPublication(services.db)),
        pubErrors: state.pubErrors ?? {},
        glossaryRows: [
          ...glossary,
          ...Array.from({ length: GLOSSARY_BLANK_ROWS }, () => ({ abbreviation: '', english: '', chinese: '' })),
        ].map((g, i) => ({ ...g, i })),
        glossaryCount: glossary.length + GLOSSARY_BLANK_ROWS,
        glossaryError: state.glossaryError,
      },
      { title: 'Settings', section: 'settings', status: state.status },
    );
  };

  router.get('/settings', (req, res) => showGeneral(req, res));

  router.post('/settings/publication', async (req, res) => {
    const publication: Publication = {
      name: field(req.body, 'name').trim(),
      publisher: field(req.body, 'publisher').trim(),
      cadence: field(req.body, 'cadence').trim(),
      contact: field(req.body, 'contact').trim(),
      aboutMarkdown: field(req.body, 'about').replace(/\r\n/g, '\n').trim(),
    };
    const errors: Errors = {};
    if (publication.name === '') errors.name = 'The publication needs a name (it heads every email and page).';
    if (publication.name.length > 200) errors.name = 'The name is longer than 200 characters.';
    if (
      publication.contact &&
      !emailSchema.safeParse(publication.contact).success &&
      !/^https?:\/\//.test(publication.contact)
    ) {
      errors.contact = 'Give an email address or an http(s) address people can reach you at.';
    }
    if (publication.aboutMarkdown.length > 20_000) errors.about = 'The about text is longer than 20,000 characters.';
    if (Object.keys(errors).length) return showGeneral(req, res, { publication, pubErrors: errors, status: 400 });
    await savePublication(services.db, publication);
    afterChange();
    redirectSeeOther(res, '/admin/settings?notice=saved');
  });

  router.post('/settings/glossary', async (req, res) => {
    const count = Math.min(2000, Number(field(req.body, 'rows')) || 0);
    const entries: GlossaryEntry[] = [];
    const seen = new Map<string, number>();
    let error: string | undefined;
    for (let i = 0; i < count; i++) {
      const abbreviation = field(req.body, `abbreviation_${i}`).trim();
      const english = field(req.body, `english_${i}`).trim();
      const chinese = field(req.body, `chinese_${i}`).trim();
      if (field(req.body, `remove_${i}`) === 'yes') continue;
      if (!abbreviation && !english && !chinese) continue;
      if (!abbreviation) error ??= `Row ${i + 1}: give the abbreviation, or clear the row.`;
      const key = abbreviation.toLowerCase();
      if (abbreviation && seen.has(key))
        error ??= `Row ${i + 1}: “${abbreviation}” is already on row ${(seen.get(key) ?? 0) + 1}.`;
      seen.set(key, i);
      entries.push({ abbreviation, english, chinese });
    }
    if (error) return showGeneral(req, res, { glossary: entries, glossaryError: error, status: 400 });
    await replaceGlossary(services.db, entries);
    afterChange();
    redirectSeeOther(res, '/admin/settings?notice=saved#glossary');
  });

  // --- topics -----------------------------------------------------------------------------------

  const showTopics = async (
    req: Request,
    res: Response,
    state: { errors?: Errors; values?: Record<string, { name: string; description: string }>; status?: number } = {},
  ) => {
    const topics = await listTopics(services.db);
    const use = await countTopicUse(services.db);
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
  };

  router.get('/settings/topics', (req, res) => showTopics(req, res));

  router.post('/settings/topics', async (req, res) => {
    const op = /^(save|up|down):(\d+)$/.exec(field(req.body, 'op'));
    if (!op) throw new HttpError(400, 'Unknown change; reload the page and try again.');
    const [, action, idText] = op;
    const id = Number(idText);
    const topics = await listTopics(services.db);
    const topic = topics.find((t) => t.id === id);
    if (!topic) throw new HttpError(404, 'This topic does not exist.');
    if (action === 'up' || action === 'down') {
      const ids = topics.map((t) => t.id);
      const i = ids.indexOf(id);
      const j = action === 'up' ? i - 1 : i + 1;
      if (j >= 0 && j < ids.length) {
        [ids[i], ids[j]] = [ids[j] as number, ids[i] as number];
        await saveTopicOrder(services.db, ids);
        afterChange();
      }
      return redirectSeeOther(res, `/admin/settings/topics#topic-${id}`);
    }
    const name = field(req.body, `name_${id}`).trim().replace(/\s+/g, ' ');
    const description = field(req.body, `description_${id}`).trim();
    const values = { [id]: { name, description } };
    const slug = topicSlug(name);
    let error: string | undefined;
    if (!slug) error = 'A topic name needs at least one letter or digit.';
    else if (name.length > 100) error = 'The name is longer than 100 characters.';
    else if (description.length > 1000) error = 'The description is longer than 1,000 characters.';
    else if (slug !== topic.slug) {
      const owner = await topicSlugOwner(services.db, slug);
      if (owner !== undefined && owner !== id)
        error = `Another topic already has the address “${slug}”; choose a different name.`;
      const sending = await issuesInFlight(services.db);
      if (!error && sending.length) {
        error = `Issue ${sending.join(', ')} is being sent with the current topic addresses; rename after it finishes (the description can change now).`;
      }
    }
    if (error) return showTopics(req, res, { errors: { [id]: error }, values, status: 400 });
    await updateTopic(services.db, id, { name, slug, description });
    afterChange();
    redirectSeeOther(res, `/admin/settings/topics?notice=saved#topic-${id}`);
  });

  // --- editors ----------------------------------------------------------------------------------

  const showEditors = async (
    req: Request,
    res: Response,
    state: {
      errors?: Errors;
      invite?: { email: string; role: string };
      created?: { email: string; password: string; role: string };
      status?: number;
    } = {},
  ) => {
    const me = adminState(req).session.editor;
    const invite = state.invite ?? { email: '', role: 'editor' };
    await renderAdminPage(
      ctx,
      req,
      res,
      'settings/editors',
      {
        tab: 'editors',
        editors: (await listEditors(services.db)).map((e) => ({
          ...e,
          isMe: e.id === me.id,
          error: state.errors?.[`editor-${e.id}`],
          since: formatTime(e.createdAt, services.config.scheduleTz),
          roles: EDITOR_ROLES.map((r) => ({ value: r, selected: r === e.role })),
        })),
        errors: state.errors ?? {},
        invite,
        inviteRoles: EDITOR_ROLES.map((r) => ({ value: r, selected: r === invite.role })),
        created: state.created,
      },
      { title: 'Editors', section: 'settings', status: state.status },
    );
  };

  router.get('/settings/editors', (req, res) => showEditors(req, res));

  /** Invites an editor: the account gets a random password shown once, here, to pass on privately. */
  router.post('/settings/editors', async (req, res) => {
    const email = field(req.body, 'email').trim();
    const role = field(req.body, 'role');
    const invite = { email, role };
    if (!emailSchema.safeParse(email).success)
      return showEditors(req, res, { errors: { email: 'Give the new editor’s email address.' }, invite, status: 400 });
    if (!EDITOR_ROLES.includes(role as EditorRole))
      return showEditors(req, res, { errors: { role: 'Choose admin or editor.' }, invite, status: 400 });
    const password = generatePassword();
    try {
      const editor = await insertEditor(services.db, email, role as EditorRole, await hashPassword(password));
      services.logger.info({ by: adminState(req).session.editor.id, editor: editor.id, role }, 'editor invited');
      await showEditors(req, res, { created: { email: editor.email, password, role } });
    } catch (error) {
      if (!(error instanceof EditorExistsError)) throw error;
      await showEditors(req, res, { errors: { email: `${error.message}.` }, invite, status: 400 });
    }
  });

  router.post('/settings/editors/:id', async (req, res) => {
    const id = Number(req.params.id);
    const editor = Number.isInteger(id) ? await findEditorById(services.db, id) : undefined;
    if (!editor) throw new HttpError(404, 'This editor does not exist.');
    const me = adminState(req).session.editor;
    const action = field(req.body, 'op');
    const lastAdmin = editor.role === 'admin' && (await countAdmins(services.db)) <= 1;
    if (action === 'remove') {
      if (editor.id === me.id)
        return showEditors(req, res, {
          errors: { [`editor-${id}`]: 'You cannot remove yourself; ask another admin.' },
          status: 400,
        });
      if (lastAdmin)
        return showEditors(req, res, {
          errors: { [`editor-${id}`]: 'This is the last admin; make someone else admin first.' },
          status: 400,
        });
      await deleteEditor(services.db, editor.id);
      return redirectSeeOther(res, '/admin/settings/editors?notice=removed');
    }
    if (action === 'role') {
      const role = field(req.body, 'role');
      if (!EDITOR_ROLES.includes(role as EditorRole)) throw new HttpError(400, 'Choose admin or editor.');
      if (lastAdmin && role !== 'admin') {
        return showEditors(req, res, {
          errors: { [`editor-${id}`]: 'This is the last admin; make someone else admin first.' },
          status: 400,
        });
      }
      await updateEditorRole(services.db, editor.id, role as EditorRole);
      return redirectSeeOther(res, '/admin/settings/editors?notice=saved');
    }
    throw new HttpError(400, 'Unknown change; reload the page and try again.');
  });

  return router;
}
