import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { getPublication, listGlossary } from '../../src/content/content-repository.js';
import type { GlossaryEntry, Publication } from '../../src/content/types.js';
import { type AdminContext, field, handle, redirectSeeOther } from '../context.js';
import { renderAdminPage } from '../page.js';
import { markdownNestingProblem } from '../../src/render/markdown.js';
import { formCutMessage } from '../../src/http/form-body.js';
import { replaceGlossary, savePublication } from '../settings-repository.js';

// Settings → General: the publication's details and the glossary printed under every issue.

const GLOSSARY_BLANK_ROWS = 3;
const MAX_GLOSSARY_ROWS = 2000;
const GLOSSARY_CELL_CHARS = { abbreviation: 40, english: 300, chinese: 100 } as const;
const PUBLICATION_LINE_CHARS = 500;

/** Characters the publication form may hold in all (name, publisher, cadence, contact, about), as checked below. */
export const PUBLICATION_FORM_CHARS = 200 + 3 * PUBLICATION_LINE_CHARS + 20_000;
/** Characters and fields the glossary form may hold, as checked below. */
export const GLOSSARY_FORM_SIZE = {
  chars:
    MAX_GLOSSARY_ROWS * (GLOSSARY_CELL_CHARS.abbreviation + GLOSSARY_CELL_CHARS.english + GLOSSARY_CELL_CHARS.chinese),
  fields: MAX_GLOSSARY_ROWS * 4 + 2,
};
const emailSchema = z.email();

interface GeneralPageState {
  publication?: Publication;
  pubErrors?: Record<string, string>;
  glossary?: GlossaryEntry[];
  glossaryError?: string;
  status?: number;
}

async function showGeneralSettings(
  ctx: AdminContext,
  req: Request,
  res: Response,
  state: GeneralPageState = {},
): Promise<void> {
  const { db } = ctx.services;
  const glossary = state.glossary ?? (await listGlossary(db));
  await renderAdminPage(
    ctx,
    req,
    res,
    'settings/general',
    {
      tab: 'general',
      publication: state.publication ?? (await getPublication(db)),
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
}

function publicationFromForm(body: unknown): Publication {
  return {
    name: field(body, 'name').trim(),
    publisher: field(body, 'publisher').trim(),
    cadence: field(body, 'cadence').trim(),
    contact: field(body, 'contact').trim(),
    aboutMarkdown: field(body, 'about').replace(/\r\n/g, '\n').trim(),
  };
}

function publicationErrors(publication: Publication): Record<string, string> {
  const errors: Record<string, string> = {};
  if (publication.name === '') errors.name = 'The publication needs a name (it heads every email and page).';
  if (publication.name.length > 200) errors.name = 'The name is longer than 200 characters.';
  for (const line of ['publisher', 'cadence', 'contact'] as const) {
    if (publication[line].length > PUBLICATION_LINE_CHARS)
      errors[line] = `The ${line} is longer than ${PUBLICATION_LINE_CHARS} characters.`;
  }
  if (
    publication.contact &&
    !emailSchema.safeParse(publication.contact).success &&
    !/^https?:\/\//.test(publication.contact)
  ) {
    errors.contact = 'Give an email address or an http(s) address people can reach you at.';
  }
  if (publication.aboutMarkdown.length > 20_000) errors.about = 'The about text is longer than 20,000 characters.';
  const deepAbout = errors.about ? null : markdownNestingProblem(publication.aboutMarkdown);
  if (deepAbout) errors.about = `The about text cannot be saved: ${deepAbout}.`;
  return errors;
}

async function savePublicationSettings(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const publication = publicationFromForm(req.body);
  const errors = publicationErrors(publication);
  const cut = formCutMessage(req);
  if (cut) errors.about = cut;
  if (Object.keys(errors).length) {
    return showGeneralSettings(ctx, req, res, { publication, pubErrors: errors, status: 400 });
  }
  await savePublication(ctx.services.db, publication);
  ctx.services.renderer.invalidate();
  redirectSeeOther(res, '/admin/settings?notice=saved');
}

/** The glossary rows of the form, without removed and blank ones, and the first problem found. */
function glossaryFromForm(body: unknown): { entries: GlossaryEntry[]; error?: string } {
  const count = Math.min(MAX_GLOSSARY_ROWS, Number(field(body, 'rows')) || 0);
  const entries: GlossaryEntry[] = [];
  const seen = new Map<string, number>();
  let error: string | undefined;
  for (let i = 0; i < count; i++) {
    const abbreviation = field(body, `abbreviation_${i}`).trim();
    const english = field(body, `english_${i}`).trim();
    const chinese = field(body, `chinese_${i}`).trim();
    if (field(body, `remove_${i}`) === 'yes') continue;
    if (!abbreviation && !english && !chinese) continue;
    if (!abbreviation) error ??= `Row ${i + 1}: give the abbreviation, or clear the row.`;
    const key = abbreviation.toLowerCase();
    if (abbreviation && seen.has(key))
      error ??= `Row ${i + 1}: “${abbreviation}” is already on row ${(seen.get(key) ?? 0) + 1}.`;
    seen.set(key, i);
    for (const [cell, value] of Object.entries({ abbreviation, english, chinese })) {
      const max = GLOSSARY_CELL_CHARS[cell as keyof typeof GLOSSARY_CELL_CHARS];
      if (value.length > max) error ??= `Row ${i + 1}: the ${cell} is longer than ${max} characters.`;
    }
    entries.push({ abbreviation, english, chinese });
  }
  return { entries, error };
}

async function saveGlossarySettings(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const { entries, error: rowError } = glossaryFromForm(req.body);
  const error = formCutMessage(req) ?? rowError;
  if (error) return showGeneralSettings(ctx, req, res, { glossary: entries, glossaryError: error, status: 400 });
  await replaceGlossary(ctx.services.db, entries);
  ctx.services.renderer.invalidate();
  redirectSeeOther(res, '/admin/settings?notice=saved#glossary');
}

export function createPublicationSettingsRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get(
    '/settings',
    handle(ctx, (c, req, res) => showGeneralSettings(c, req, res)),
  );
  router.post('/settings/publication', handle(ctx, savePublicationSettings));
  router.post('/settings/glossary', handle(ctx, saveGlossarySettings));
  return router;
}
