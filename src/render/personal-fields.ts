import { randomBytes } from 'node:crypto';
import Handlebars from 'handlebars';

export interface PersonalFields {
  name: string;
  email: string;
  webUrl: string;
  manageUrl: string;
  unsubscribeUrl: string;
  /**
   * The message's part of its tracked links (`.` and the signed tag of src/tracking/click-token.ts),
   * written only into links that click tracking rewrote; empty or absent elsewhere.
   */
  trackingTag?: string;
}

export const PERSONAL_FIELD_NAMES = ['name', 'email', 'webUrl', 'manageUrl', 'unsubscribeUrl', 'trackingTag'] as const;
type FieldName = (typeof PERSONAL_FIELD_NAMES)[number];

/**
 * Per-subscriber values are written into compiled output as placeholder tokens that carry a random
 * per-process nonce (no article can contain them), then substituted by `fill`.
 */
const NONCE = randomBytes(6).toString('hex');
/** What every field token of this process starts with (frames shared between processes swap it: compiled-frames.ts). */
export const FIELD_TOKEN_PREFIX = `NLF${NONCE}x`;
export const fieldToken = (name: FieldName): string => `${FIELD_TOKEN_PREFIX}${name}x`;
export const TOKEN_FIELDS: PersonalFields = Object.fromEntries(
  PERSONAL_FIELD_NAMES.map((n) => [n, fieldToken(n)]),
) as unknown as PersonalFields;

const TOKEN_PATTERN = new RegExp(`NLF${NONCE}x(${PERSONAL_FIELD_NAMES.join('|')})x`, 'g');

/**
 * The longest name a greeting shows, in characters: a name is a field the size budget must allow
 * for in every message (a 2,000-character name would otherwise take 24 KB of quoted-printable).
 */
export const GREETING_NAME_MAX = 64;

/** The name as a greeting shows it: `reader` when empty, cut at GREETING_NAME_MAX characters. */
export function greetingName(name: string): string {
  if (name.trim() === '') return 'reader';
  if (name.length <= GREETING_NAME_MAX) return name;
  const chars = [...name];
  return chars.length <= GREETING_NAME_MAX ? name : chars.slice(0, GREETING_NAME_MAX - 1).join('') + '…';
}

/**
 * The largest values a subscriber's fields can take, for measuring an edition against the size
 * budget: a name of GREETING_NAME_MAX four-byte characters (12 bytes each in quoted-printable), and
 * manage and unsubscribe links with the longest token subscribers/tokens.ts signs
 * (`m.` + 64-character uid + `.` + 12-character expiry + `.` + 22-character signature).
 */
export function largestFields(baseUrl: string, webUrl: string): PersonalFields {
  const token = `m.${'U'.repeat(64)}.${'e'.repeat(12)}.${'S'.repeat(22)}`;
  return {
    name: '\u{1F600}'.repeat(GREETING_NAME_MAX),
    email: `${'x'.repeat(64)}@${'d'.repeat(189)}`,
    webUrl,
    manageUrl: `${baseUrl}/preferences?token=${token}`,
    unsubscribeUrl: `${baseUrl}/unsubscribe?token=${token}`,
    trackingTag: '',
  };
}

/** A string split once at its field tokens, so each fill is a join of a few pieces. */
export class FillTemplate {
  private readonly literals: string[] = [];
  private readonly fields: FieldName[] = [];

  constructor(
    source: string,
    private readonly escape: boolean,
  ) {
    let last = 0;
    for (const match of source.matchAll(TOKEN_PATTERN)) {
      this.literals.push(source.slice(last, match.index));
      this.fields.push(match[1] as FieldName);
      last = (match.index ?? 0) + match[0].length;
    }
    this.literals.push(source.slice(last));
  }

  /** How many field values a fill writes. */
  get fieldCount(): number {
    return this.fields.length;
  }

  fill(values: PersonalFields): string {
    const prepared: Record<FieldName, string> = {
      name: greetingName(values.name),
      email: values.email,
      webUrl: values.webUrl,
      manageUrl: values.manageUrl,
      unsubscribeUrl: values.unsubscribeUrl,
      trackingTag: values.trackingTag ?? '',
    };
    if (this.escape) {
      // The same escaping Handlebars applies, so a filled frame equals a direct render.
      for (const key of PERSONAL_FIELD_NAMES) prepared[key] = Handlebars.escapeExpression(prepared[key]);
    }
    let out = this.literals[0] ?? '';
    for (let i = 0; i < this.fields.length; i++) out += prepared[this.fields[i] as FieldName] + this.literals[i + 1];
    return out;
  }
}
