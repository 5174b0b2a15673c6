import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// Synchronizer tokens: each session row carries its own random csrf_secret, and a form's token is
// an HMAC of it under SECRET_KEY. A token is thus bound to one session and useless in any other;
// no extra cookie is needed (csrf-csrf's double-submit pattern is for servers without sessions).

export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';
export const LOGIN_NONCE_COOKIE = 'nl_admin_login';

function sign(secretKey: string, purpose: string, value: string): string {
  return createHmac('sha256', secretKey).update(`${purpose}:${value}`).digest('base64url');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function sessionCsrfToken(secretKey: string, sessionCsrfSecret: string): string {
  return sign(secretKey, 'admin-form', sessionCsrfSecret);
}

export function verifySessionCsrfToken(secretKey: string, sessionCsrfSecret: string, token: unknown): boolean {
  return typeof token === 'string' && same(token, sessionCsrfToken(secretKey, sessionCsrfSecret));
}

/** Before sign-in there is no session: the sign-in form is bound to a random nonce in a short-lived cookie. */
export function newLoginNonce(): string {
  return randomBytes(24).toString('base64url');
}

export function loginCsrfToken(secretKey: string, nonce: string): string {
  return sign(secretKey, 'admin-login', nonce);
}

export function verifyLoginCsrfToken(secretKey: string, nonce: unknown, token: unknown): boolean {
  return (
    typeof nonce === 'string' &&
    typeof token === 'string' &&
    nonce !== '' &&
    same(token, loginCsrfToken(secretKey, nonce))
  );
}
