import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

// Signed, purpose-scoped tokens for the links a subscriber receives (confirm, manage, unsubscribe,
// and the short-lived export and erase links mailed when a manage page asks for them).
//
// Format (URL-safe, no padding): `<purpose>.<uid>.<expiry>.<signature>`
//   purpose   one letter: c = confirm, m = manage, u = unsubscribe, x = export, e = erase
//   uid       the subscriber's random public id (never the row id)
//   expiry    Unix time in milliseconds, base 36, or `0` for "does not expire" (milliseconds so the
//             issue time of a confirmation link is exact; see signup.ts)
//   signature first 128 bits of HMAC-SHA256(secret, "nl-token:v1|<purpose>|<uid>|<expiry>"), base64url
//
// One HMAC per signature keeps signing cheap enough to run once per subscriber per send.
// Manage and unsubscribe links in mails do not expire by default: an old issue's unsubscribe
// link must keep working (withdrawing must be as easy as subscribing). They stop working when
// the subscriber is erased, because their uid no longer exists.

export type TokenPurpose = 'confirm' | 'manage' | 'unsubscribe' | 'export' | 'erase';

/** How long a confirmation link stays valid. */
export const CONFIRM_TOKEN_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** How long a mailed export or erase link stays valid (data-requests.ts). */
export const DATA_REQUEST_TTL_MS = 60 * 60 * 1000;

const PURPOSE_CODE: Record<TokenPurpose, string> = {
  confirm: 'c',
  manage: 'm',
  unsubscribe: 'u',
  export: 'x',
  erase: 'e',
};
const CODE_PURPOSE: Record<string, TokenPurpose> = {
  c: 'confirm',
  m: 'manage',
  u: 'unsubscribe',
  x: 'export',
  e: 'erase',
};
const SIGNATURE_BYTES = 16;
const UID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;
const TOKEN_PATTERN = /^([cmuxe])\.([A-Za-z0-9_-]{8,64})\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/;

export type TokenFailure = 'malformed' | 'bad-signature' | 'wrong-purpose' | 'expired';

export type TokenCheck =
  { ok: true; purpose: TokenPurpose; uid: string; expiresAt: Date | null } | { ok: false; reason: TokenFailure };

/** A human sentence for each failure, shown on the 4xx page. */
export const TOKEN_FAILURE_MESSAGES: Record<TokenFailure, string> = {
  malformed: 'This link is incomplete or damaged. Copy the whole link from the email and try again.',
  'bad-signature':
    'This link is not valid: it was changed after we sent it. Use the link exactly as it came in the email.',
  'wrong-purpose': 'This link is meant for a different page. Use the link that belongs to what you want to do.',
  expired: 'This link has expired. Sign up again to get a fresh confirmation email.',
};

/** A new random public subscriber id (128 bits, base64url): what tokens carry instead of the row id. */
export function newSubscriberUid(): string {
  return randomBytes(16).toString('base64url');
}

export interface TokenSigner {
  /** Signs a token for one purpose and subscriber uid; `expiresAt` omitted or null = never expires. */
  sign(purpose: TokenPurpose, uid: string, expiresAt?: Date | null): string;
  /** Checks signature, purpose and expiry; `now` is injectable for tests. */
  verify(expectedPurpose: TokenPurpose, token: string, now?: Date): TokenCheck;
}

/** Builds a signer with the key prepared once; prefer this in loops (e.g. one call per send). */
export function createTokens(secret: string): TokenSigner {
  if (secret.length < 16) throw new Error('Token secret must be at least 16 characters');
  const key: KeyObject = createSecretKey(Buffer.from(secret, 'utf8'));

  const mac = (code: string, uid: string, expiry: string): Buffer =>
    createHmac('sha256', key).update(`nl-token:v1|${code}|${uid}|${expiry}`).digest().subarray(0, SIGNATURE_BYTES);

  return {
    sign(purpose, uid, expiresAt = null) {
      if (!UID_PATTERN.test(uid)) throw new Error(`Not a subscriber uid: "${uid}"`);
      const code = PURPOSE_CODE[purpose];
      const expiry = expiresAt === null ? '0' : Math.max(1, expiresAt.getTime()).toString(36);
      return `${code}.${uid}.${expiry}.${mac(code, uid, expiry).toString('base64url')}`;
    },

    verify(expectedPurpose, token, now = new Date()) {
      const match = TOKEN_PATTERN.exec(token.trim());
      if (!match) return { ok: false, reason: 'malformed' };
      const [, code, uid, expiry, signature] = match as unknown as [string, string, string, string, string];
      // Compared as text: base64url's last character has spare bits, so comparing decoded bytes
      // would accept several spellings of one signature.
      const given = Buffer.from(signature, 'latin1');
      const expected = Buffer.from(mac(code, uid, expiry).toString('base64url'), 'latin1');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return { ok: false, reason: 'bad-signature' };
      }
      const purpose = CODE_PURPOSE[code];
      if (purpose === undefined) return { ok: false, reason: 'malformed' };
      // Checked after the signature, so a forged token never learns more than "bad signature".
      if (purpose !== expectedPurpose) return { ok: false, reason: 'wrong-purpose' };
      const millis = parseInt(expiry, 36);
      const expiresAt = millis === 0 ? null : new Date(millis);
      if (expiresAt !== null && expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
      return { ok: true, purpose, uid, expiresAt };
    },
  };
}

// Signers are cached per secret so the plain functions below are as cheap as a prepared signer.
const signers = new Map<string, TokenSigner>();
function signerFor(secret: string): TokenSigner {
  let signer = signers.get(secret);
  if (!signer) {
    signer = createTokens(secret);
    signers.set(secret, signer);
  }
  return signer;
}

export function signToken(secret: string, purpose: TokenPurpose, uid: string, expiresAt?: Date | null): string {
  return signerFor(secret).sign(purpose, uid, expiresAt);
}

export function verifyToken(secret: string, purpose: TokenPurpose, token: string, now?: Date): TokenCheck {
  return signerFor(secret).verify(purpose, token, now);
}

export interface SubscriberLinks {
  manageUrl: string;
  unsubscribeUrl: string;
}

/** The per-subscriber links every newsletter mail carries (also the List-Unsubscribe target). */
export function subscriberLinks(config: { baseUrl: string; secretKey: string }, uid: string): SubscriberLinks {
  const signer = signerFor(config.secretKey);
  const base = config.baseUrl.replace(/\/+$/, '');
  return {
    manageUrl: `${base}/preferences?token=${signer.sign('manage', uid)}`,
    unsubscribeUrl: `${base}/unsubscribe?token=${signer.sign('unsubscribe', uid)}`,
  };
}

/** The confirmation link of a double opt-in, valid for 7 days from `now`. */
export function confirmUrl(config: { baseUrl: string; secretKey: string }, uid: string, now = new Date()): string {
  const token = signerFor(config.secretKey).sign('confirm', uid, new Date(now.getTime() + CONFIRM_TOKEN_TTL_MS));
  return `${config.baseUrl.replace(/\/+$/, '')}/confirm?token=${token}`;
}
