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

  /** Fetches the sign-in form (its token) and posts it; `headers` go with both requests. */
  async login(email: string, password: string, headers: Record<string, string> = {}): Promise<Response> {
    const form = await (await this.get('/admin/login', headers)).text();
    const token = /name="_csrf" value="([^"]+)"/.exec(form)?.[1] ?? '';
    return this.post('/admin/login', { _csrf: token, email, password, next: '/admin' }, headers);
  }
}

/** The password appUnderTest and signedInEditor give their editors. */
export const EDITOR_PASSWORD = 'correct horse battery';

export interface AppOptions {
  /** The editors to add, each with EDITOR_PASSWORD; none unless given. */
  editors?: readonly { email: string; role?: EditorRole }[];
  /** Import the project's long issue (test/fixtures/long-issue.ts) first; false unless given. */
  withLongIssue?: boolean;
  /** Environment variables passed to makeTempEnv (e.g. SMTP_URL). */
  env?: Record<string, string>;
  /** Runs after the long issue's import and before the editors are added and the app starts. */
  seed?: (services: Services, env: TempEnv) => Promise<void>;
}

export interface AppUnderTest {
  env: TempEnv;
  services: Services;
  app: RunningApp;
  /** Stops the app, closes the services and removes the temporary DATA_DIR. */
  close(): Promise<void>;
}

/** A fresh DATA_DIR and database, its editors, and the real app on a loopback port. */
export async function appUnderTest(options: AppOptions = {}): Promise<AppUnderTest> {
  const { editors = [], withLongIssue = false, env: extra = {}, seed } = options;
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
    for (const editor of editors) await addEditor(services, editor.email, EDITOR_PASSWORD, editor.role);
    app = await startApp(services);
    return { env, services, app, close };
  } catch (err) {
    // A half-built setup still releases its port, database and directory.
    await close().catch(() => undefined);
    throw err;
  }
}

export interface SignedInOptions extends Omit<AppOptions, 'editors'> {
  /** The editor's address; ed@example.org unless given. */
  email?: string;
  role?: EditorRole;
  /** Import the project's long issue first; true unless given. */
  withLongIssue?: boolean;
}

export interface SignedIn extends AppUnderTest {
  /** Signed in as the editor; fetch a CSRF token from the page the test needs. */
  client: Client;
}

/**
 * appUnderTest with one editor (and the long issue unless told otherwise), and a client signed in
 * as that editor.
 */
export async function signedInEditor(options: SignedInOptions = {}): Promise<SignedIn> {
  const { email = 'ed@example.org', role = 'editor', withLongIssue = true, ...rest } = options;
  const running = await appUnderTest({ ...rest, withLongIssue, editors: [{ email, role }] });
  try {
    const client = new Client(running.app.url);
    await client.login(email, EDITOR_PASSWORD);
    return { ...running, client };
  } catch (err) {
    await running.close().catch(() => undefined);
    throw err;
  }
}
