import { z } from 'zod';

/** What an API key may do; each route of /api/v1 needs exactly one of these. */
export const API_SCOPES = [
  'subscribers:read',
  'subscribers:write',
  'content:write',
  'issues:read',
  'issues:send',
  'stats:read',
] as const;

export type ApiScope = (typeof API_SCOPES)[number];

export const apiScopeSchema = z.enum(API_SCOPES);

export class ScopeListError extends Error {}

/** Reads a comma- or space-separated scope list (CLI, form); names every unknown scope. */
export function parseScopeList(text: string): ApiScope[] {
  const names = [...new Set(text.split(/[\s,]+/).filter((s) => s !== ''))];
  const unknown = names.filter((n) => !(API_SCOPES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new ScopeListError(
      `Unknown scope ${unknown.map((s) => `"${s}"`).join(', ')}; scopes are ${API_SCOPES.join(', ')}`,
    );
  }
  if (names.length === 0) throw new ScopeListError(`Give at least one scope: ${API_SCOPES.join(', ')}`);
  return API_SCOPES.filter((s) => names.includes(s));
}
