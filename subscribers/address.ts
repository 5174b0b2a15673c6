import { createHmac } from 'node:crypto';
import { z } from 'zod';

// Addresses are compared and stored normalised (trimmed, lower case), so `Ann@Example.org ` and
// `ann@example.org` are one subscriber. Lower-casing the local part is what readers expect even if
// RFC 5321 leaves it to the receiving server.

const emailSchema = z.email().max(254);

export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

/** The normalised address, or null when it is not a usable email address. */
export function parseEmail(raw: string): string | null {
  const email = normaliseEmail(raw);
  return emailSchema.safeParse(email).success ? email : null;
}

/**
 * Keyed hash kept after erasure (HMAC-SHA256 with SECRET_KEY): lets an import recognise an erased
 * address without storing it. Changing SECRET_KEY makes old hashes unrecognisable.
 */
export function erasedAddressHash(secretKey: string, email: string): string {
  return createHmac('sha256', secretKey)
    .update(`erased-address:v1|${normaliseEmail(email)}`)
    .digest('hex');
}

/**
 * Domains reserved for examples and testing (RFC 2606, RFC 6761): no mail is ever delivered there,
 * so an address at one belongs to a trial, never to a reader.
 */
const RESERVED_DOMAINS = ['example.com', 'example.net', 'example.org'];
const RESERVED_TLDS = ['test', 'example', 'invalid', 'localhost'];

export function isReservedAddress(email: string): boolean {
  const domain = normaliseEmail(email).split('@').pop() ?? '';
  if (domain === 'localhost') return true;
  if (RESERVED_DOMAINS.some((d) => domain === d || domain.endsWith(`.${d}`))) return true;
  return RESERVED_TLDS.includes(domain.split('.').pop() ?? '');
}
