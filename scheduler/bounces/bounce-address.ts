import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  timingSafeEqual,
  type Cipher,
  type Decipher,
  type KeyObject,
} from 'node:crypto';

// The envelope sender of every issue message (VERP): `bounces+<token>@BOUNCE_DOMAIN`. A bounce,
// an auto-reply or a feedback report comes back to that address, so the address alone names the
// delivery (issue and subscriber): nothing is guessed from the returned text.
//
// The token is one AES block, 26 characters of lower-case base32 (mail systems may change the
// case of a local part, so the token survives that):
//   block     = issue id (4 bytes) ‖ subscriber id (4 bytes) ‖ tag (8 bytes)
//   tag       = first 64 bits of HMAC-SHA256(macKey, "nl-bounce:v1" ‖ ids)
//   token     = base32(AES-128(encKey, block))
// Encrypted, it reveals nothing (not even how many subscribers there are); signed, a forged or
// altered token fails the tag check (a 2⁻⁶⁴ chance per try). Both keys are derived from
// SECRET_KEY with HKDF, so no new secret is needed. Issue id 0 stands for mail outside an issue.

export interface DeliveryRef {
  issueId: number;
  subscriberId: number;
}

const LOCAL_PREFIX = 'bounces';
const TOKEN_CHARS = 26;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const TOKEN_PATTERN = new RegExp(`^[${BASE32}]{${TOKEN_CHARS}}$`);
const MAX_ID = 0xffffffff;

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function fromBase32(text: string): Buffer {
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text) {
    value = ((value << 5) | BASE32.indexOf(char)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

export class BounceAddresses {
  private readonly macKey: KeyObject;
  /**
   * One cipher each way for the object's life: in ECB mode every 16-byte block is processed on
   * its own, so `update()` of one block returns that block at once and `final()` is never needed.
   * Creating a cipher per token cost about 0.2 ms (OpenSSL 3 looks the algorithm up each time);
   * this way a token costs a few microseconds, next to the message's other HMACs.
   */
  private readonly encrypt: Cipher;
  private readonly decrypt: Decipher;
  readonly domain: string;

  constructor(secret: string, domain: string) {
    const derive = (info: string, length: number) =>
      Buffer.from(hkdfSync('sha256', secret, 'newsletter-bounce-address', info, length));
    const encKey = derive('aes', 16);
    this.encrypt = createCipheriv('aes-128-ecb', encKey, null).setAutoPadding(false);
    this.decrypt = createDecipheriv('aes-128-ecb', encKey, null).setAutoPadding(false);
    this.macKey = createSecretKey(derive('hmac', 32));
    this.domain = domain.toLowerCase();
  }

  private tag(ids: Buffer): Buffer {
    return createHmac('sha256', this.macKey).update('nl-bounce:v1').update(ids).digest().subarray(0, 8);
  }

  token(ref: DeliveryRef): string {
    for (const id of [ref.issueId, ref.subscriberId]) {
      if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new RangeError(`not a row id: ${id}`);
    }
    const ids = Buffer.alloc(8);
    ids.writeUInt32BE(ref.issueId, 0);
    ids.writeUInt32BE(ref.subscriberId, 4);
    return base32(this.encrypt.update(Buffer.concat([ids, this.tag(ids)])));
  }

  /** The envelope sender for one delivery. */
  address(ref: DeliveryRef): string {
    return `${LOCAL_PREFIX}+${this.token(ref)}@${this.domain}`;
  }

  /** The delivery a token names, or null when it is malformed, forged or altered. */
  verifyToken(token: string): DeliveryRef | null {
    const text = token.toLowerCase();
    if (!TOKEN_PATTERN.test(text)) return null;
    const block = fromBase32(text);
    // The last character carries two spare bits: only the canonical spelling is accepted.
    if (block.length !== 16 || base32(block) !== text) return null;
    const plain = this.decrypt.update(block);
    if (plain.length !== 16) return null;
    const ids = plain.subarray(0, 8);
    if (!timingSafeEqual(plain.subarray(8), this.tag(ids))) return null;
    return { issueId: ids.readUInt32BE(0), subscriberId: ids.readUInt32BE(4) };
  }

  /**
   * The delivery an address names: `bounces+<token>@BOUNCE_DOMAIN` (any case, with or without
   * angle brackets), or null for any other address, another domain or a bad token.
   */
  parse(address: string): DeliveryRef | null {
    const text = address.trim().replace(/^<|>$/g, '').toLowerCase();
    const at = text.lastIndexOf('@');
    if (at < 0 || text.slice(at + 1) !== this.domain) return null;
    const local = text.slice(0, at);
    if (!local.startsWith(`${LOCAL_PREFIX}+`)) return null;
    return this.verifyToken(local.slice(LOCAL_PREFIX.length + 1));
  }

  /** The delivery named by the first valid token-bearing address in a text (a returned original's headers). */
  findIn(text: string): DeliveryRef | null {
    const pattern = new RegExp(`${LOCAL_PREFIX}\\+([a-z2-7]{${TOKEN_CHARS}})@${escapeRegExp(this.domain)}`, 'gi');
    for (const match of text.matchAll(pattern)) {
      const ref = this.verifyToken(match[1] ?? '');
      if (ref) return ref;
    }
    return null;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
