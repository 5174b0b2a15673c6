import { topicSlug } from '../../src/content/slug.js';
import { markdownNestingProblem } from '../../src/render/markdown.js';
import { field } from '../context.js';
import type { IssueDetails } from '../issue-repository.js';
import type { EmailFit } from '../../src/db/schema.js';

const EMAIL_FITS: readonly string[] = ['auto', 'full', 'teasers'] satisfies EmailFit[];
const isEmailFit = (value: string): value is EmailFit => EMAIL_FITS.includes(value);

export interface IssueFormValues {
  slug: string;
  title: string;
  edition: string;
  period: string;
  note: string;
  preheader: string;
  emailFit: string;
}

/** Characters the issue form's fields may hold in all (slug, title, edition, period, note), as checked below. */
export const ISSUE_FORM_CHARS = 80 + 200 + 100 + 100 + 20_000;

export type IssueFormErrors = Partial<Record<keyof IssueFormValues, string>>;

export function issueFormFromBody(body: unknown): IssueFormValues {
  return {
    slug: field(body, 'slug').trim(),
    title: field(body, 'title'),
    edition: field(body, 'edition'),
    period: field(body, 'period'),
    note: field(body, 'note'),
    preheader: field(body, 'preheader'),
    emailFit: field(body, 'emailFit'),
  };
}

/** The issue's address in the archive: typed, or made from the period (else the title). */
export function suggestedIssueSlug(values: IssueFormValues): string {
  return topicSlug(values.period.trim() || values.title.trim())
    .slice(0, 80)
    .replace(/-+$/, '');
}

export function validateIssueForm(
  values: IssueFormValues,
  options: { needSlug: boolean },
): { details: IssueDetails; slug: string; errors: IssueFormErrors } {
  const errors: IssueFormErrors = {};
  const title = values.title.trim().replace(/\s+/g, ' ');
  if (title === '') errors.title = 'Give the issue a title (e.g. the newsletter’s name).';
  else if (title.length > 200) errors.title = 'The title is longer than 200 characters.';
  const edition = values.edition.trim();
  if (edition.length > 100) errors.edition = 'The edition is longer than 100 characters.';
  const period = values.period.trim();
  if (period.length > 100) errors.period = 'The period is longer than 100 characters.';
  const note = values.note.replace(/\r\n/g, '\n').trim();
  if (note.length > 20_000) errors.note = 'The editor’s note is longer than 20,000 characters.';
  const preheader = values.preheader.trim().replace(/\s+/g, ' ');
  if (preheader.length > 200) errors.preheader = 'The preview line is longer than 200 characters.';
  const emailFit = values.emailFit === '' ? 'auto' : values.emailFit;
  if (!isEmailFit(emailFit)) errors.emailFit = 'Choose how editions fit the size budget: auto, full or teasers.';
  const deepNote = errors.note ? null : markdownNestingProblem(note);
  if (deepNote) errors.note = `The note cannot be saved: ${deepNote}.`;
  let slug = '';
  if (options.needSlug) {
    slug = values.slug === '' ? suggestedIssueSlug(values) : values.slug;
    if (slug === '')
      errors.slug = 'Give the issue an address (letters a–z, digits and -), or a period to make one from.';
    else if (!/^[a-z0-9][a-z0-9-]{0,79}$/.test(slug))
      errors.slug = 'Use only lower-case letters a–z, digits and - (at most 80), starting with a letter or digit.';
  }
  return {
    details: {
      title,
      edition,
      period,
      editorNoteMarkdown: note,
      preheader,
      emailFit: isEmailFit(emailFit) ? emailFit : 'auto',
    },
    slug,
    errors,
  };
}
