import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

// The tokens of tracked links: BASE_URL/r/<link>.<tag> (and /o/<link>.<tag> for the open pixel).
//
// `link` names one row of tracked_links (which holds the issue, the edition, the link's position in
// it and the original URL) and is the same in every message of an edition, so an edition is
// rewritten once. `tag` is per message: when it was sent and, only at the `individual` level for a
// reader who opted in, the subscriber's row id; it is a personal field filled in like the reader's
// name (src/render/personal-fields.ts). Both parts are signed with HMAC-SHA256 under SECRET_KEY,
// each with its own purpose prefix; the tag's signature also covers the issue, so a tag cannot be
// moved to another issue's link.
//
// Short, because every link of an email grows by it and the size budget reserves 48 bytes a link
// (LINK_TRACKING_ALLOWANCE): binary payloads with LEB128 numbers, signatures cut to 64 bits (link)
// and 48 bits (tag), base64url without padding. A link token is about 16 characters, a tag 15
// (19 with a subscriber).
//
//   link = base64url( kind (1 = link, 2 = open) · varint(link id) · HMAC[0..8) )
//   tag  = base64url( flags (1 = subscriber, 2 = test copy) · varint(sent, seconds since 2020) ·
//                     [varint(subscriber id)] · HMAC(issue id · payload)[0..6) )

export type TrackedKind = 'link' | 'open';

export interface LinkTokenPayload {
  kind: TrackedKind;
  linkId: number;
}

export interface TagPayload {
  /** When the message was made (to the second): clicks soon after it are a scanner's. */
  sentAt: Date;
  /** Only at the `individual` level, for a reader who opted in. */
  subscriberId: number | null;
  /** A `[TEST]` copy: its clicks redirect but are not counted. */
  test: boolean;
}

const LINK_MAC_BYTES = 8;
const TAG_MAC_BYTES = 6;
const EPOCH_SECONDS = Date.UTC(2020, 0, 1) / 1000;
const KIND_CODE: Record<TrackedKind, number> = { link: 1, open: 2 };
const CODE_KIND: Record<number, TrackedKind> = { 1: 'link', 2: 'open' };
const FLAG_SUBSCRIBER = 1;
const FLAG_TEST = 2;
/**
 * The longest a token and tag get with ids below 2^28 (268 million links or subscribers) and times
 * before 3100, for the size budget's measure: 13 bytes of link (18 characters), `.`, 16 of tag (22).
 */
export const MAX_TRACKING_TOKEN_LENGTH = 41;
const PART = /^[A-Za-z0-9_-]{6,40}$/;

function writeVarint(out: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`Not a token number: ${value}`);
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** Reads a LEB128 number at `at`; null when the bytes end first or it runs past 2^49. */
function readVarint(bytes: Buffer, at: number): { value: number; next: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length && i < at + 7; i++) {
    const byte = bytes[i] as number;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
    scale *= 0x80;
  }
  return null;
}

export type TrackingTokenCheck =
  | { ok: true; link: LinkTokenPayload; tag: Buffer | null; tagText: string | null }
  | { ok: false; reason: 'malformed' | 'bad-signature' };

export interface TrackingTokens {
  linkToken(payload: LinkTokenPayload): string;
  tag(issueId: number, payload: TagPayload): string;
  /** Checks the link part's signature (no database needed); the tag is checked once its issue is known. */
  verifyLink(token: string): TrackingTokenCheck;
  /** The tag's payload if its signature holds for this issue. */
  verifyTag(issueId: number, tag: Buffer): TagPayload | null;
}

export function createTrackingTokens(secret: string): TrackingTokens {
  if (secret.length < 16) throw new Error('Token secret must be at least 16 characters');
  const key: KeyObject = createSecretKey(Buffer.from(secret, 'utf8'));
  const linkMac = (payload: Buffer) =>
    createHmac('sha256', key).update('nl-click:v1|').update(payload).digest().subarray(0, LINK_MAC_BYTES);
  const tagMac = (issueId: number, payload: Buffer) =>
    createHmac('sha256', key).update(`nl-click-tag:v1|${issueId}|`).update(payload).digest().subarray(0, TAG_MAC_BYTES);

  return {
    linkToken({ kind, linkId }) {
      const bytes: number[] = [KIND_CODE[kind]];
      writeVarint(bytes, linkId);
      const payload = Buffer.from(bytes);
      return Buffer.concat([payload, linkMac(payload)]).toString('base64url');
    },

    tag(issueId, { sentAt, subscriberId, test }) {
      const bytes: number[] = [(subscriberId !== null ? FLAG_SUBSCRIBER : 0) | (test ? FLAG_TEST : 0)];
      writeVarint(bytes, Math.max(0, Math.floor(sentAt.getTime() / 1000) - EPOCH_SECONDS));
      if (subscriberId !== null) writeVarint(bytes, subscriberId);
      const payload = Buffer.from(bytes);
      return Buffer.concat([payload, tagMac(issueId, payload)]).toString('base64url');
    },

    verifyLink(token) {
      const [linkText, tagText, extra] = token.split('.');
      if (linkText === undefined || !PART.test(linkText) || extra !== undefined)
        return { ok: false, reason: 'malformed' };
      if (tagText !== undefined && !PART.test(tagText)) return { ok: false, reason: 'malformed' };
      const bytes = Buffer.from(linkText, 'base64url');
      // Compared as text, as in subscribers/tokens.ts: several spellings decode to the same bytes.
      if (bytes.toString('base64url') !== linkText || bytes.length <= LINK_MAC_BYTES + 1) {
        return { ok: false, reason: 'malformed' };
      }
      const payload = bytes.subarray(0, bytes.length - LINK_MAC_BYTES);
      if (!timingSafeEqual(bytes.subarray(bytes.length - LINK_MAC_BYTES), linkMac(payload))) {
        return { ok: false, reason: 'bad-signature' };
      }
      const kind = CODE_KIND[payload[0] as number];
      const id = readVarint(payload, 1);
      if (kind === undefined || id === null || id.next !== payload.length) return { ok: false, reason: 'malformed' };
      const tag = tagText === undefined ? null : Buffer.from(tagText, 'base64url');
      if (tag !== null && tag.toString('base64url') !== tagText) return { ok: false, reason: 'malformed' };
      return { ok: true, link: { kind, linkId: id.value }, tag, tagText: tagText ?? null };
    },

    verifyTag(issueId, tag) {
      if (tag.length <= TAG_MAC_BYTES + 1) return null;
      const payload = tag.subarray(0, tag.length - TAG_MAC_BYTES);
      if (!timingSafeEqual(tag.subarray(tag.length - TAG_MAC_BYTES), tagMac(issueId, payload))) return null;
      const flags = payload[0] as number;
      const sent = readVarint(payload, 1);
      if (sent === null) return null;
      let next = sent.next;
      let subscriberId: number | null = null;
      if ((flags & FLAG_SUBSCRIBER) !== 0) {
        const id = readVarint(payload, next);
        if (id === null) return null;
        subscriberId = id.value;
        next = id.next;
      }
      if (next !== payload.length) return null;
      return { sentAt: new Date((sent.value + EPOCH_SECONDS) * 1000), subscriberId, test: (flags & FLAG_TEST) !== 0 };
    },
  };
}

const cache = new Map<string, TrackingTokens>();
/** One prepared signer per secret (cheap to ask for in every request). */
export function trackingTokens(secret: string): TrackingTokens {
  let tokens = cache.get(secret);
  if (!tokens) {
    tokens = createTrackingTokens(secret);
    cache.set(secret, tokens);
  }
  return tokens;
}
