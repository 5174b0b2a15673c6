import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { createWebApp } from '../../src/web/server.js';
import { startSmtpSink, type ReceivedMail, type SmtpSink, type SmtpSinkOptions } from '../helpers/smtp-sink.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { importLongIssue } from '../fixtures/long-issue.js';

// A real server on loopback with a real SQLite file and a real SMTP server receiving the mail.

export interface WebHarness {
  temp: TempEnv;
  services: Services;
  sink: SmtpSink;
  base: string;
  close(): Promise<void>;
}

/** A running server; with the project's long issue imported (as a draft) unless `longIssue` is false. */
export async function startHarness(
  options: { longIssue?: boolean; sink?: SmtpSinkOptions; env?: Record<string, string> } = {},
): Promise<WebHarness> {
  const sink = await startSmtpSink(options.sink);
  const temp = makeTempEnv({ SMTP_URL: sink.url, ...options.env });
  const services = await temp.open();
  if (options.longIssue !== false) await importLongIssue(services);
  const server: Server = createWebApp(services).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    temp,
    services,
    sink,
    base,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await services.close();
      await sink.close();
      temp.cleanup();
    },
  };
}

/**
 * The calling file's harness: started before its tests (beforeAll), closed after them (afterAll).
 * The object returned reads through to that harness, so tests and hooks use it as they would the
 * harness itself; seeding a file needs goes in a `beforeAll` after this call (hooks run in order).
 */
export function useHarness(options: { longIssue?: boolean } = {}): WebHarness {
  let started: WebHarness | undefined;
  beforeAll(async () => {
    started = await startHarness(options);
  });
  afterAll(async () => {
    await started?.close();
  });
  const current = (): WebHarness => {
    if (!started) throw new Error('the harness starts in beforeAll: use it inside a test or a hook');
    return started;
  };
  return {
    get temp() {
      return current().temp;
    },
    get services() {
      return current().services;
    },
    get sink() {
      return current().sink;
    },
    get base() {
      return current().base;
    },
    close: () => current().close(),
  };
}

/** A minimal browser: keeps cookies, never follows redirects (so tests see them). */
export class Client {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(this.base + path, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair && eq > 0) this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }

  async get(path: string): Promise<{ res: Response; html: string }> {
    const res = await this.request(path);
    return { res, html: await res.text() };
  }

  async post(path: string, fields: Record<string, string | string[]>): Promise<{ res: Response; html: string }> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const item of Array.isArray(v) ? v : [v]) body.append(k, item);
    const res = await this.request(path, { method: 'POST', body });
    return { res, html: await res.text() };
  }

  /** GETs a page with a form and returns its CSRF token. */
  async csrfFrom(path: string): Promise<string> {
    return (await formFields(this, path)).csrf;
  }
}

/** The first URL in a mail's text part whose path starts with `pathname`, as a path on our server. */
export function linkIn(mail: ReceivedMail, pathname: string): string {
  const text = mail.parsed.text ?? '';
  const match = new RegExp(`https?://[^\\s/]+(${pathname.replace('/', '\\/')}\\?token=[A-Za-z0-9._-]+)`).exec(text);
  if (!match?.[1]) throw new Error(`no ${pathname} link in mail "${mail.parsed.subject}":\n${text}`);
  return match[1];
}

/** Waits for a mail to `to` among those after the first `seen` (mail is sent in the background, in any order). */
export async function nextMailTo(sink: SmtpSink, to: string, seen: number, timeoutMs = 20_000): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  for (let count = seen + 1; ; count++) {
    const all = await sink.waitFor(count, Math.max(1, deadline - Date.now()));
    const mail = all.slice(seen).find((m) => m.envelopeTo.includes(to));
    if (mail) return mail;
    count = all.length;
  }
}

/** Signs up through the form as a browser would. */
export async function signUp(
  client: Client,
  fields: { email: string; name?: string; topics?: string[] },
): Promise<{ res: Response; html: string }> {
  const csrf = await client.csrfFrom('/subscribe');
  return client.post('/subscribe', {
    _csrf: csrf,
    email: fields.email,
    name: fields.name ?? '',
    topics: fields.topics ?? [],
  });
}

/** Opens a confirmation link and presses its Confirm button, as a person does (the link alone confirms nothing). */
export async function confirmVia(client: Client, confirmPath: string): Promise<{ res: Response; html: string }> {
  const csrf = await client.csrfFrom(confirmPath);
  return client.post(confirmPath, { _csrf: csrf });
}

/** The part of a page between <main> and </main>. */
export function mainOf(html: string): string {
  return /<main[^>]*>([\s\S]*)<\/main>/.exec(html)?.[1] ?? '';
}

/** Signs up and confirms through the real mail, then returns the manage link the "already subscribed" mail carries. */
export async function confirmedSubscriber(
  h: WebHarness,
  email: string,
  topics: string[],
): Promise<{ client: Client; managePath: string }> {
  const client = new Client(h.base);
  let seen = h.sink.received.length;
  await signUp(client, { email, name: 'Pat', topics });
  const confirmed = await confirmVia(client, linkIn(await nextMailTo(h.sink, email, seen), '/confirm'));
  if (confirmed.res.status !== 200) throw new Error(`confirming ${email} answered ${confirmed.res.status}`);
  seen = h.sink.received.length;
  await signUp(client, { email });
  const managePath = linkIn(await nextMailTo(h.sink, email, seen), '/preferences');
  return { client, managePath };
}

/** A page's form CSRF token (and its HTML); throws when the page is not 200 or has no form. */
export async function formFields(client: Client, path: string): Promise<{ csrf: string; html: string }> {
  const { res, html } = await client.get(path);
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!csrf) throw new Error(`no CSRF field on ${path}`);
  return { csrf, html };
}
