import { z } from 'zod';

const email = z.email();

/**
 * Where the publication's contact links to, by what it is: `mailto:` for an email address, the
 * address itself for an http(s) web address, nothing for anything else (shown as plain text).
 * A web address used to print as `mailto:https://…`.
 */
export function contactHref(contact: unknown): string {
  const value = typeof contact === 'string' ? contact.trim() : '';
  if (value === '') return '';
  if (email.safeParse(value).success) return `mailto:${value}`;
  if (/^https?:\/\/[^\s]+$/i.test(value) && URL.canParse(value)) return new URL(value).href;
  return '';
}
