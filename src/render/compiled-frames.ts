import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Db } from '../db/database.js';

// The compiled MJML frames of issues whose content is frozen (a send started), kept in the database
// so that every process of a send uses one compile (migration 074). A frame is found by the hash
// of exactly what was compiled: the MJML source (the issue's content, the templates, BASE_URL and
// the rest of the configuration that went into it) with MJML's version and the format below. So a
// process whose templates or configuration differ never gets another's frame; it compiles its own.

/** Bump when what is stored changes for the same MJML source (compactHtml, the frame's tokens). */
const FORMAT = 2;

/**
 * A frame's personal-field tokens carry the nonce of the process that rendered it
 * (personal-fields.ts), so a frame is hashed and stored with this in place of that process's token
 * prefix, and each process that reads it puts its own back. Not hexadecimal: never a process's own.
 */
const SHARED_TOKEN_PREFIX = 'NLF-shared-x';

/**
 * `text` with the tokens of the process whose prefix is `ownPrefix` made shareable; undefined when
 * `text` already holds the shared prefix (an article quoting it), as such a frame cannot be shared.
 */
export function shareable(text: string, ownPrefix: string): string | undefined {
  if (text.includes(SHARED_TOKEN_PREFIX)) return undefined;
  return text.replaceAll(ownPrefix, SHARED_TOKEN_PREFIX);
}

/** A stored frame with the reading process's own tokens. */
export function ownCopy(stored: string, ownPrefix: string): string {
  return stored.replaceAll(SHARED_TOKEN_PREFIX, ownPrefix);
}
const MJML_VERSION = (createRequire(import.meta.url)('mjml/package.json') as { version: string }).version;

export function frameSourceHash(mjml: string): string {
  return createHash('sha256').update(`${FORMAT}\0${MJML_VERSION}\0`).update(mjml).digest('hex');
}

export async function readCompiledFrame(db: Db, sourceHash: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('compiled_frames')
    .select('html')
    .where('source_hash', '=', sourceHash)
    .executeTakeFirst();
  return row?.html;
}

/**
 * Stores a frame (the first writer wins; the same source compiles to the same frame). Frames of
 * issues no longer sending go at the same time: only sends in progress need theirs.
 */
export async function saveCompiledFrame(
  db: Db,
  frame: { issueId: number; sourceHash: string; html: string },
  now: string,
): Promise<void> {
  await db
    .insertInto('compiled_frames')
    .values({ source_hash: frame.sourceHash, issue_id: frame.issueId, html: frame.html, created_at: now })
    .onConflict((oc) => oc.column('source_hash').doNothing())
    .execute();
  await db
    .deleteFrom('compiled_frames')
    .where('issue_id', 'in', (eb) =>
      eb.selectFrom('issues').select('id').where('status', 'not in', ['sending', 'paused']),
    )
    .execute();
}
