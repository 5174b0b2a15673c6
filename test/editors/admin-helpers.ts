import type { Server } from 'node:http';
import type { Services } from '../../src/app/services.js';
import type { EditorRole } from '../../src/db/schema.js';
import { createWebApp } from '../../src/web/server.js';
import { insertEditor } from '../../editors/editor-repository.js';
import { hashPassword } from '../../editors/auth/passwords.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { importLongIssue } from '../fixtures/long-issue.js';

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

/** The real app (createWebApp) listening on a loopback port chosen by the OS. */
export async function startApp(services: Services, port = 0): Promise<RunningApp> {
  const app = createWebApp(services);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function addEditor(
  services: Services,
  email: string,
  password: string,
  role: EditorRole = 'editor',
): Promise<void> {
  await insertEditor(services.db, email, role, await hashPassword(password), 'chosen');
}

/** A minimal browser-like HTTP client: keeps cookies, never follows redirects on its own. */
export class Client {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  private remember(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await fetch(this.base + path, {
      redirect: 'manual',
      headers: { cookie: this.cookieHeader(), accept: 'text/html', ...headers },
    });
    this.remember(res);
    return res;
  }

  async post(
    path: string,
    body: Record<string, string> | FormData | URLSearchParams | string,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const payload =
      typeof body === 'string' || body instanceof FormData || body instanceof URLSearchParams
        ? body
        : new URLSearchParams(body);
    const res = await fetch(this.base + path, {
      method: 'POST',
      redirect: 'manual',
      body: payload,
      headers: { cookie: this.cookieHeader(), ...headers },
    });
    this.remember(res);
    return res;
  }

  /** The session's CSRF token, read from the page's <meta name="csrf-token"> as our scripts do. */
  async csrfToken(path = '/admin'): Promise<string> {
    const html = await (await this.get(path)).text();
    const match = /<meta name="csrf-token" content="([^"]+)">/.exec(html);
    if (!match?.[1]) throw new Error(`no CSRF token on ${path}`);
    return match[1];
  }

  async login(email: string, password: string): Promise<Response> {
    const form = await (await this.get('/admin/login')).text();
    const token = /name="_csrf" value="([^"]+)"/.exec(form)?.[1] ?? '';
    return this.post('/admin/login', { _csrf: token, email, password, next: '/admin' });
  }
}

/** The password signedInEditor gives its editor. */
export const EDITOR_PASSWORD = 'correct horse battery';

export interface SignedInOptions {
  /** The editor's address; ed@example.org unless given. */
  email?: string;
  role?: EditorRole;
  /** Import the project's long issue (test/fixtures/long-issue.ts) first; true unless given. */
  withLongIssue?: boolean;
  /** Environment variables passed to makeTempEnv (e.g. SMTP_URL). */
  env?: Record<string, string>;
  /** Runs after the long issue's import and before the editor is added and the app starts. */
  seed?: (services: Services, env: TempEnv) => Promise<void>;
}

export interface SignedIn {
  env: TempEnv;
  services: Services;
  app: RunningApp;
  /** Signed in as the editor; fetch a CSRF token from the page the test needs. */
  client: Client;
  /** Stops the app, closes the services and removes the temporary DATA_DIR. */
  close(): Promise<void>;
}

/**
 * A fresh DATA_DIR and database (with the long issue unless told otherwise), one editor,
 * the real app on a loopback port, and a client signed in as that editor.
 */
export async function signedInEditor(options: SignedInOptions = {}): Promise<SignedIn> {
  const { email = 'ed@example.org', role = 'editor', withLongIssue = true, env: extra = {}, seed } = options;
  const env = makeTempEnv(extra);
  let services: Services | undefined;
  let app: RunningApp | undefined;
  const close = async (): Promise<void> => {
    await app?.close();
    await services?.close();
    env.cleanup();
  };
  try {
    services = await env.open();
    if (withLongIssue) await importLongIssue(services);
    await seed?.(services, env);
    await addEditor(services, email, EDITOR_PASSWORD, role);
    app = await startApp(services);
    const client = new Client(app.url);
    await client.login(email, EDITOR_PASSWORD);
    return { env, services, app, client, close };
  } catch (err) {
    // A half-built setup still releases its port, database and directory.
    await close().catch(() => undefined);
    throw err;
  }
}
