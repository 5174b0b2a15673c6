import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

// An endpoint's signing secret is needed as text to sign each delivery, so it cannot be hashed like
// an API key. It is stored sealed instead: AES-256-GCM under a key derived from SECRET_KEY (HKDF),
// so a copy of the database alone (a backup, a dump handed to someone) does not let anyone sign
// events as this service. Stored form: `v1.` + base64url(nonce ‖ ciphertext ‖ tag).
// Endpoints registered before sealing hold the plain `whsec_…` text; the relay seals them when it
// starts, and reading still accepts it.

const PREFIX = 'v1.';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const PLAIN_PREFIX = 'whsec_';

export class WebhookSecretError extends Error {}

function keyOf(secretKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, '', 'nl-webhook-secret:v1', 32));
}

/** Whether a stored secret is still the plain text of an endpoint registered before sealing. */
export function isPlainWebhookSecret(stored: string): boolean {
  return stored.startsWith(PLAIN_PREFIX);
}

export function sealWebhookSecret(secretKey: string, secret: string): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyOf(secretKey), nonce);
  const sealed = Buffer.concat([nonce, cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return PREFIX + sealed.toString('base64url');
}

/** The secret's text; a WebhookSecretError says what to do when SECRET_KEY cannot open it. */
export function openWebhookSecret(secretKey: string, stored: string): string {
  if (isPlainWebhookSecret(stored)) return stored;
  const bytes = stored.startsWith(PREFIX) ? Buffer.from(stored.slice(PREFIX.length), 'base64url') : Buffer.alloc(0);
  try {
    if (bytes.length <= NONCE_BYTES + TAG_BYTES) throw new Error('too short');
    const decipher = createDecipheriv('aes-256-gcm', keyOf(secretKey), bytes.subarray(0, NONCE_BYTES));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    throw new WebhookSecretError(
      'the signing secret cannot be read with this SECRET_KEY (it was sealed under another one): ' +
        'put the old SECRET_KEY back, or remove the endpoint and add it again (its receiver gets a new secret)',
    );
  }
}
