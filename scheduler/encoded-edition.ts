import { randomBytes } from 'node:crypto';
import type { CompiledEdition } from '../src/render/issue-renderer.js';
import { FillTemplate, fieldToken, PERSONAL_FIELD_NAMES, type PersonalFields } from '../src/render/personal-fields.js';
import type { QuotedPrintableBody } from '../src/mail/messenger.js';
import { decodeQuotedPrintable, encodeQuotedPrintable } from '../src/mail/quoted-printable.js';

// Per-message waste avoided: an edition's HTML and text are ~100 KB that nodemailer would
// quoted-printable-encode again for every subscriber, although only a few short fields differ.
// Here each edition is encoded once, in pieces split at its personal fields; a message is the
// encoded pieces joined with its encoded field values. Soft line breaks (`=` CRLF) between pieces
// keep it valid quoted-printable (RFC 2045 §6.7), lines at most 76 characters.
//
// The pieces come from the edition itself (a fill with marker values), and the field values go
// through the renderer's own FillTemplate, so the result is byte for byte what `fill` gives.
// `encodeEdition` checks exactly that before using an edition, and returns null (= send it the
// plain way) if it ever is not.

type FieldName = (typeof PERSONAL_FIELD_NAMES)[number];

export interface EncodedEdition {
  fill(fields: PersonalFields): { html: QuotedPrintableBody; text: QuotedPrintableBody };
}

const SOFT_BREAK = '=\r\n';

const NONCE = randomBytes(6).toString('hex');
const markerOf = (name: FieldName) => `NLQP${NONCE}M${name}M`;
const MARKERS = Object.fromEntries(PERSONAL_FIELD_NAMES.map((n) => [n, markerOf(n)])) as unknown as PersonalFields;
const MARKER_PATTERN = new RegExp(`NLQP${NONCE}M(${PERSONAL_FIELD_NAMES.join('|')})M`, 'g');

/** The renderer's own treatment of one field value (HTML escaping, the default name). */
const fieldTemplates = (escape: boolean) =>
  Object.fromEntries(PERSONAL_FIELD_NAMES.map((n) => [n, new FillTemplate(fieldToken(n), escape)])) as Record<
    FieldName,
    FillTemplate
  >;
const HTML_FIELDS = fieldTemplates(true);
const TEXT_FIELDS = fieldTemplates(false);

/** An encoded piece as bytes (quoted-printable is ASCII), and whether it ends a line. */
interface Piece {
  bytes: Buffer;
  endsLine: boolean;
}

function piece(encoded: string): Piece {
  return { bytes: Buffer.from(encoded, 'latin1'), endsLine: encoded.endsWith('\r\n') };
}

const SOFT_BREAK_BYTES = Buffer.from(SOFT_BREAK, 'latin1');

/**
 * Lists encoded pieces, each starting on a fresh line. They stay Buffers (outside the JavaScript
 * heap, shared by every message of the edition) until the messenger joins them once, so sending
 * many large messages does not churn the garbage collector.
 */
function joinEncoded(pieces: Piece[]): Buffer[] {
  const parts: Buffer[] = [];
  let lineOpen = false;
  for (const p of pieces) {
    if (p.bytes.length === 0) continue;
    if (lineOpen) parts.push(SOFT_BREAK_BYTES);
    parts.push(p.bytes);
    lineOpen = !p.endsLine;
  }
  return parts;
}

class EncodedPart {
  private readonly literals: Piece[] = [];
  private readonly fields: FieldName[] = [];

  constructor(
    filledWithMarkers: string,
    private readonly templates: Record<FieldName, FillTemplate>,
  ) {
    let last = 0;
    for (const match of filledWithMarkers.matchAll(MARKER_PATTERN)) {
      this.literals.push(piece(encodeQuotedPrintable(filledWithMarkers.slice(last, match.index))));
      this.fields.push(match[1] as FieldName);
      last = (match.index ?? 0) + match[0].length;
    }
    this.literals.push(piece(encodeQuotedPrintable(filledWithMarkers.slice(last))));
  }

  fill(values: PersonalFields, cache: Map<FieldName, Piece>): QuotedPrintableBody {
    const pieces: Piece[] = [this.literals[0] as Piece];
    for (let i = 0; i < this.fields.length; i++) {
      const name = this.fields[i] as FieldName;
      let encoded = cache.get(name);
      if (encoded === undefined) {
        encoded = piece(encodeQuotedPrintable(this.templates[name].fill(values)));
        cache.set(name, encoded);
      }
      pieces.push(encoded, this.literals[i + 1] as Piece);
    }
    return { quotedPrintable: joinEncoded(pieces) };
  }
}

const PROBES: PersonalFields[] = [
  {
    name: 'Zoë & "Ann" <o\'Brien> = x',
    email: 'zoe+test@example.org',
    webUrl: 'https://news.example.org/issues/x?topics=a,b&c=d',
    manageUrl: 'https://news.example.org/preferences?token=m.abc.0.def',
    unsubscribeUrl: 'https://news.example.org/unsubscribe?token=u.abc.0.def',
    trackingTag: '.AQDcmL4B0Ud7_-xY',
  },
  { name: '', email: 'a@b.c', webUrl: 'w', manageUrl: 'm', unsubscribeUrl: 'u' },
];

/** Encodes an edition once; null when its fill cannot be reproduced exactly (then send it plainly). */
export function encodeEdition(edition: CompiledEdition): EncodedEdition | null {
  const marked = edition.fill(MARKERS);
  const html = new EncodedPart(marked.html, HTML_FIELDS);
  const text = new EncodedPart(marked.text, TEXT_FIELDS);
  const encoded: EncodedEdition = {
    fill(fields) {
      const htmlCache = new Map<FieldName, Piece>();
      const textCache = new Map<FieldName, Piece>();
      return { html: html.fill(fields, htmlCache), text: text.fill(fields, textCache) };
    },
  };
  const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
  for (const probe of PROBES) {
    const direct = edition.fill(probe);
    const viaPieces = encoded.fill(probe);
    if (
      decodeQuotedPrintable(viaPieces.html.quotedPrintable) !== crlf(direct.html) ||
      decodeQuotedPrintable(viaPieces.text.quotedPrintable) !== crlf(direct.text)
    ) {
      return null;
    }
  }
  return encoded;
}
