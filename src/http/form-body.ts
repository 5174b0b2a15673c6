import type { Request, RequestHandler } from 'express';

// A urlencoded form body parser for forms that must come back with what was typed even when the
// body is over its limit: body-parser answers a bare 413 and drops everything. This one keeps the
// first `limit` bytes, parses the complete fields among them, marks the request as cut, and lets
// the route show the form with what arrived and a message stating the limit.

/** The body limit of every form but the editors' large ones (sign-up, preferences, sign-in, …). */
export const PUBLIC_FORM_BYTES = 64 * 1024;

/** The worst case bytes one typed character takes in a urlencoded body: `%E6%A0%87` for a CJK character. */
export const URLENCODED_BYTES_PER_CHAR = 9;

/** Bytes of a form whose fields hold at most `chars` characters in all, over `fields` fields. */
export function formBodyBytes(chars: number, fields: number): number {
  // Each field's name, `=` and `&` (64 bytes is generous for our field names), and the CSRF token.
  return chars * URLENCODED_BYTES_PER_CHAR + fields * 64 + 1024;
}

/** Past this many bytes a cut body is no longer drained: the connection is closed. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

const cutRequests = new WeakMap<Request, number>();

/** The limit a request's form body went over (only its first part was parsed), or null. */
export function formBodyCut(req: Request): number | null {
  return cutRequests.get(req) ?? null;
}

/** What a form whose body went over its limit shows, or null when it arrived whole. */
export function formCutMessage(req: Request): string | null {
  const limit = formBodyCut(req);
  if (limit === null) return null;
  return (
    `This form was larger than the ${formatBytes(limit)} it may hold, so only its first part arrived and ` +
    'nothing was saved. What arrived is shown; shorten it and save again.'
  );
}

/** `64 kB`, `1.2 MB`: a limit as people read it. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  return bytes < 1024 * 1024 ? `${Math.round(bytes / 1024)} kB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function parsePairs(text: string): Record<string, string | string[]> {
  const body: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of new URLSearchParams(text)) {
    const existing = body[name];
    if (existing === undefined) body[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else body[name] = [existing, value];
  }
  return body;
}

/**
 * Parses `application/x-www-form-urlencoded` bodies of up to `limitFor(req)` bytes (other
 * requests pass through untouched). A longer body is read to its end, keeping only the first
 * `limit` bytes; the fields complete within them become `req.body`, and `formBodyCut(req)` says so.
 */
export function parseFormBody(limitFor: (req: Request) => number): RequestHandler {
  return (req, res, next) => {
    if (!req.is('application/x-www-form-urlencoded') || req.readableEnded) return next();
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      res.status(415).type('text/plain').send(`A form body sent as ${encoding} is not accepted; send it uncompressed.`);
      return;
    }
    const limit = limitFor(req);
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let seenBytes = 0;
    req.on('data', (chunk: Buffer) => {
      seenBytes += chunk.length;
      if (keptBytes < limit) {
        const part = chunk.subarray(0, limit - keptBytes);
        kept.push(part);
        keptBytes += part.length;
      }
      if (seenBytes > DRAIN_LIMIT) req.destroy();
    });
    req.once('error', next);
    req.once('end', () => {
      let text = Buffer.concat(kept).toString('utf8');
      if (seenBytes > limit) {
        cutRequests.set(req, limit);
        // Only complete fields: the last one may have been cut anywhere, even inside a %XX escape.
        text = text.slice(0, Math.max(0, text.lastIndexOf('&')));
      }
      req.body = parsePairs(text);
      next();
    });
  };
}
