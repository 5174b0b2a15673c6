import { createHmac } from 'node:crypto';
import emailAddresses from 'email-addresses';
import libmime from 'libmime';
import type { Config } from '../src/config/config.js';
import type { CompiledEdition } from '../src/render/issue-renderer.js';
import { subscriberLinks } from '../subscribers/tokens.js';
import { encodeEdition, type EncodedEdition } from './encoded-edition.js';
import type { BounceAddresses } from './bounces/bounce-address.js';
import type { OutgoingMessage } from '../src/mail/messenger.js';
import type { EditionTracker } from '../src/tracking/edition-tracker.js';

export interface Recipient {
  /** The subscriber's row id: named by the VERP return path. */
  id: number;
  uid: string;
  email: string;
  name: string;
  /** Agreed to individual tracking on their preferences page (used only at the `individual` level). */
  trackingOptIn?: boolean;
}

export interface MessageBuilderOptions {
  config: Pick<Config, 'baseUrl' | 'secretKey' | 'mailFrom'>;
  /** The publication's name, shown in List-Id. */
  publicationName: string;
  /** With BOUNCE_DOMAIN: every message's envelope sender names its delivery (issue and subscriber). */
  returnPath?: { addresses: BounceAddresses; issueId: number };
  /** Click tracking of this send: each message's tag for the links the tracker rewrote. */
  tracker?: EditionTracker;
}

/** The domain of MAIL_FROM's address: Message-IDs and List-Id live under it. */
export function mailFromDomain(mailFrom: string): string {
  const parsed = emailAddresses.parseOneAddress(mailFrom);
  const domain = parsed && 'domain' in parsed ? parsed.domain.trim().toLowerCase() : '';
  return domain !== '' ? domain : 'localhost';
}

function listLabel(name: string): string {
  const label = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return label !== '' ? label : 'newsletter';
}

/**
 * Turns a compiled edition and one subscriber into the message the README's "Every email" describes.
 * Everything per issue (domain, List-Id, HMAC key) is prepared once; per message it is one fill,
 * three HMACs (Message-ID, manage and unsubscribe tokens) and a few string joins.
 */
export class MessageBuilder {
  readonly domain: string;
  readonly listId: string;
  private readonly encodedEditions = new WeakMap<CompiledEdition, EncodedEdition | null>();

  constructor(private readonly options: MessageBuilderOptions) {
    this.domain = mailFromDomain(options.config.mailFrom);
    // RFC 2919: `"Name" <label.domain>`; a non-ASCII name becomes one MIME encoded-word.
    const phrase = options.publicationName.replace(/["\\\r\n]/g, '').trim();
    const id = `<${listLabel(options.publicationName)}.${this.domain}>`;
    const quoted = libmime.isPlainText(phrase) ? `"${phrase}"` : libmime.encodeWord(phrase, 'Q', 0);
    this.listId = phrase !== '' ? `${quoted} ${id}` : id;
  }

  /**
   * Same for the same issue and subscriber on every build (so a resent copy after a crash is
   * recognised as the same message), and reveals neither: a keyed hash of the two.
   */
  messageId(issueSlug: string, subscriberUid: string): string {
    const hash = createHmac('sha256', this.options.config.secretKey)
      .update(`nl-message-id:v1|${issueSlug}|${subscriberUid}`)
      .digest('base64url')
      .slice(0, 32);
    return `<${hash}@${this.domain}>`;
  }

  build(edition: CompiledEdition, recipient: Recipient): OutgoingMessage {
    const links = subscriberLinks(this.options.config, recipient.uid);
    const fields = {
      name: recipient.name,
      email: recipient.email,
      webUrl: edition.webUrl,
      manageUrl: links.manageUrl,
      unsubscribeUrl: links.unsubscribeUrl,
      trackingTag: this.options.tracker?.tagFor(recipient) ?? '',
    };
    const body = this.encoded(edition)?.fill(fields) ?? edition.fill(fields);
    return {
      to: recipient.name.trim() !== '' ? { name: recipient.name, address: recipient.email } : recipient.email,
      subject: edition.subject,
      html: body.html,
      text: body.text,
      messageId: this.messageId(edition.issueSlug, recipient.uid),
      headers: this.listHeaders(links.unsubscribeUrl),
      ...this.envelopeSender(recipient),
    };
  }

  private envelopeSender(recipient: Recipient): Pick<OutgoingMessage, 'returnPath'> {
    const returnPath = this.options.returnPath;
    if (!returnPath) return {};
    return { returnPath: returnPath.addresses.address({ issueId: returnPath.issueId, subscriberId: recipient.id }) };
  }

  /** The edition encoded once for all its messages (see encoded-edition.ts); null: send plainly. */
  private encoded(edition: CompiledEdition): EncodedEdition | null {
    let encoded = this.encodedEditions.get(edition);
    if (encoded === undefined) {
      encoded = encodeEdition(edition);
      this.encodedEditions.set(edition, encoded);
    }
    return encoded;
  }

  /** A `[TEST]` copy for one address: outside delivery records, with its own random Message-ID. */
  buildTest(
    edition: CompiledEdition,
    to: string,
    fields: { name: string; manageUrl: string; unsubscribeUrl: string },
  ): OutgoingMessage {
    const body = edition.fill({
      name: fields.name,
      email: to,
      webUrl: edition.webUrl,
      manageUrl: fields.manageUrl,
      unsubscribeUrl: fields.unsubscribeUrl,
      // A test copy's clicks are followed but not counted.
      trackingTag: this.options.tracker?.tagFor(null, true) ?? '',
    });
    return {
      to,
      subject: `[TEST] ${edition.subject}`,
      html: body.html,
      text: body.text,
      headers: this.listHeaders(fields.unsubscribeUrl),
    };
  }

  /** Prepared (written verbatim): nodemailer would otherwise MIME-encode a quoted List-Id. */
  private listHeaders(unsubscribeUrl: string): NonNullable<OutgoingMessage['headers']> {
    return {
      'List-Id': { prepared: true, value: this.listId },
      'List-Unsubscribe': { prepared: true, value: `<${unsubscribeUrl}>` },
      // RFC 8058: mail clients POST this body to the URL above; no confirmation page in between.
      'List-Unsubscribe-Post': { prepared: true, value: 'List-Unsubscribe=One-Click' },
    };
  }
}
