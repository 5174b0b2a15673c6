import { randomBytes } from 'node:crypto';
import Handlebars from 'handlebars';

export interface PersonalFields {
  name: string;
  email: string;
  webUrl: string;
  manageUrl: string;
  unsubscribeUrl: string;
}

export const PERSONAL_FIELD_NAMES = ['name', 'email', 'webUrl', 'manageUrl', 'unsubscribeUrl'] as const;
type FieldName = (typeof PERSONAL_FIELD_NAMES)[number];

/**
 * Per-subscriber values are written into compiled output as placeholder tokens that carry a random
 * per-process nonce (no article can contain them), then substituted by `fill`.
 */
const NONCE = randomBytes(6).toString('hex');
export const fieldToken = (name: FieldName): string => `NLF${NONCE}x${name}x`;
export const TOKEN_FIELDS: PersonalFields = Object.fromEntries(
  PERSONAL_FIELD_NAMES.map((n) => [n, fieldToken(n)]),
) as unknown as PersonalFields;

const TOKEN_PATTERN = new RegExp(`NLF${NONCE}x(${PERSONAL_FIELD_NAMES.join('|')})x`, 'g');

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

  fill(values: PersonalFields): string {
    const prepared: Record<FieldName, string> = {
      name: values.name.trim() === '' ? 'reader' : values.name,
      email: values.email,
      webUrl: values.webUrl,
      manageUrl: values.manageUrl,
      unsubscribeUrl: values.unsubscribeUrl,
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
