import { formBodyBytes } from '../src/http/form-body.js';
import { ISSUE_FORM_CHARS } from './issues/issue-form.js';
import { GLOSSARY_FORM_SIZE, PUBLICATION_FORM_CHARS } from './settings/publication-routes.js';

// The editors' forms whose fields may hold more than the 64 kB every other form body is held to
// (an 8,000-character CJK about text is 72 kB urlencoded; a 400-row glossary more than that). Each
// limit follows from the form's own field limits, so whatever those accept arrives whole.

const ISSUE_FORM_BYTES = formBodyBytes(ISSUE_FORM_CHARS, 6);

const LARGE_FORMS: { path: RegExp; limit: number }[] = [
  { path: /^\/issues$/, limit: ISSUE_FORM_BYTES },
  { path: /^\/issues\/[^/]+\/details$/, limit: ISSUE_FORM_BYTES },
  { path: /^\/settings\/publication$/, limit: formBodyBytes(PUBLICATION_FORM_CHARS, 6) },
  { path: /^\/settings\/glossary$/, limit: formBodyBytes(GLOSSARY_FORM_SIZE.chars, GLOSSARY_FORM_SIZE.fields) },
];

/** The body limit of a large form at `path` (relative to /admin), or null for an ordinary form. */
export function largeFormLimit(path: string): number | null {
  return LARGE_FORMS.find((form) => form.path.test(path))?.limit ?? null;
}
