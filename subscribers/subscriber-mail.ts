import { readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import type { MjmlCompiler } from '../src/render/mjml-compiler.js';
import type { OutgoingMessage, SendResult } from '../src/mail/messenger.js';
import type { Publication } from '../src/content/types.js';
import type { SubscriberLinks } from './tokens.js';
import type { Services } from '../src/app/services.js';

// Mail to one subscriber about their subscription (not issues): the double opt-in confirmation,
// the "you are already subscribed" notice and the export or erase link (data-requests.ts). Templates live in templates/email/subscriber/ as
// `<name>.mjml.hbs` (HTML part, compiled by MJML with strict validation) and `<name>.txt.hbs`
// (text part, not HTML-escaped). They go out through the same Messenger as issues.

export type SubscriberMailName = 'confirm' | 'already-subscribed' | 'manage-link' | 'data-request';

/** Nothing typed at sign-up goes in here: the address is not confirmed yet (see signup.ts). */
export interface ConfirmMailData {
  confirmUrl: string;
  /** The address had withdrawn before and asks to come back. */
  returning: boolean;
  expiresDays: number;
}

export interface AlreadySubscribedMailData {
  name: string;
  manageUrl: string;
  unsubscribeUrl: string;
  topicNames: string[];
}

/** The short-lived link to download (export) or erase one's data; nothing personal besides it. */
export interface DataRequestMailData {
  what: 'export' | 'erase';
  actionUrl: string;
  expiresMinutes: number;
}

export interface SubscriberMailDeps {
  templatesDir: string;
  mjml: MjmlCompiler;
  send: (message: OutgoingMessage) => Promise<SendResult>;
}

export class MailTemplateError extends Error {}

interface CompiledMail {
  mjml: Handlebars.TemplateDelegate;
  text: Handlebars.TemplateDelegate;
}

export class SubscriberMail {
  private readonly hbs = Handlebars.create();
  private readonly cache = new Map<SubscriberMailName, CompiledMail>();

  constructor(private readonly deps: SubscriberMailDeps) {}

  private templates(name: SubscriberMailName): CompiledMail {
    let compiled = this.cache.get(name);
    if (!compiled) {
      const dir = path.join(this.deps.templatesDir, 'email', 'subscriber');
      compiled = {
        mjml: this.hbs.compile(readFileSync(path.join(dir, `${name}.mjml.hbs`), 'utf8'), { strict: false }),
        text: this.hbs.compile(readFileSync(path.join(dir, `${name}.txt.hbs`), 'utf8'), {
          noEscape: true,
          strict: false,
        }),
      };
      this.cache.set(name, compiled);
    }
    return compiled;
  }

  /** Renders both parts; throws MailTemplateError naming the template when MJML rejects it. */
  async render(name: SubscriberMailName, data: Record<string, unknown>): Promise<{ html: string; text: string }> {
    const t = this.templates(name);
    const result = await this.deps.mjml.compile(t.mjml(data));
    if (result.errors.length > 0)
      throw new MailTemplateError(`templates/email/subscriber/${name}.mjml.hbs: ${result.errors.join('; ')}`);
    return {
      html: result.html,
      text:
        t
          .text(data)
          .replace(/\n{3,}/g, '\n\n')
          .trim() + '\n',
    };
  }

  async sendConfirmation(to: string, publication: Publication, data: ConfirmMailData): Promise<SendResult> {
    const subject = data.returning
      ? `Confirm to receive ${publication.name} again`
      : `Confirm your subscription to ${publication.name}`;
    const parts = await this.render('confirm', { ...data, publication, subject });
    return this.deps.send({ to, subject, ...parts });
  }

  async sendAlreadySubscribed(
    to: string,
    publication: Publication,
    data: AlreadySubscribedMailData,
  ): Promise<SendResult> {
    const subject = `You already receive ${publication.name}`;
    const parts = await this.render('already-subscribed', { ...data, publication, subject });
    return this.deps.send({ to, subject, ...parts });
  }

  /** The link to the preferences page, for someone who asked for it at /manage. */
  async sendManageLink(to: string, publication: Publication, links: SubscriberLinks): Promise<SendResult> {
    const subject = `Your link to manage ${publication.name}`;
    const parts = await this.render('manage-link', { ...links, publication, subject });
    return this.deps.send({ to, subject, ...parts });
  }

  async sendDataRequest(to: string, publication: Publication, data: DataRequestMailData): Promise<SendResult> {
    const erase = data.what === 'erase';
    const subject = erase
      ? `Confirm erasing your data at ${publication.name}`
      : `Your link to download your data at ${publication.name}`;
    const parts = await this.render('data-request', {
      erase,
      actionUrl: data.actionUrl,
      expiresMinutes: data.expiresMinutes,
      publication,
      subject,
    });
    return this.deps.send({ to, subject, ...parts });
  }
}

/** The subscriber mail of a running service (templates, MJML thread and messenger of `services`). */
export function subscriberMailFor(services: Services): SubscriberMail {
  return new SubscriberMail({
    templatesDir: services.config.templatesDir,
    mjml: services.mjml,
    send: (message) => services.messenger.send(message),
  });
}
