import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/**
 * The project root: templates and the demo content are found relative to it, not to the cwd. It is
 * the folder holding package.json, found by walking up, as this file runs from src/ or dist/src/.
 */
export const PROJECT_ROOT = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export interface DkimConfig {
  domain: string;
  selector: string;
  privateKey: string;
}

export interface Config {
  dataDir: string;
  databaseUrl: string;
  port: number;
  host: string;
  baseUrl: string;
  mailFrom: string;
  smtpUrl: string | undefined;
  sendConcurrency: number;
  sendRateLimit: number | undefined;
  dkim: DkimConfig | undefined;
  secretKey: string;
  scheduleTz: string;
  outboxDir: string;
  mediaDir: string;
  templatesDir: string;
  logLevel: string;
}

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const positiveInt = (name: string) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n > 0, `${name} must be greater than 0`);

const envSchema = z.object({
  DATA_DIR: optionalText,
  DATABASE_URL: optionalText,
  PORT: z
    .string()
    .regex(/^\d+$/, 'PORT must be a port number such as 3000')
    .transform(Number)
    .refine((n) => n >= 0 && n < 65536, 'PORT must be between 0 and 65535')
    .optional(),
  HOST: optionalText,
  BASE_URL: optionalText.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), {
    message: 'BASE_URL must be an absolute http(s) URL such as https://news.example.org',
  }),
  MAIL_FROM: optionalText,
  SMTP_URL: optionalText.refine((v) => v === undefined || /^smtps?:\/\//.test(v), {
    message: 'SMTP_URL must look like smtp://user:pass@host:port or smtps://…',
  }),
  SEND_CONCURRENCY: positiveInt('SEND_CONCURRENCY').optional(),
  SEND_RATE_LIMIT: positiveInt('SEND_RATE_LIMIT').optional(),
  DKIM_DOMAIN: optionalText,
  DKIM_SELECTOR: optionalText,
  DKIM_PRIVATE_KEY_FILE: optionalText,
  SECRET_KEY: optionalText.refine((v) => v === undefined || v.length >= 32, {
    message: 'SECRET_KEY must be at least 32 characters (or leave it unset to generate one in DATA_DIR)',
  }),
  SCHEDULE_TZ: optionalText,
  TEMPLATES_DIR: optionalText,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
});

export class ConfigError extends Error {}

/** Reads `.env` from the working folder when present (real environment variables win). */
export function loadDotEnv(cwd = process.cwd()): void {
  const file = path.join(cwd, '.env');
  if (existsSync(file)) process.loadEnvFile(file);
}

function readOrCreateSecret(dataDir: string): string {
  const file = path.join(dataDir, 'secret.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Validates the environment at the edge; everything inside trusts the returned Config. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.DATA_DIR ?? 'data');
  mkdirSync(dataDir, { recursive: true });
  const port = e.PORT ?? 3000;

  const dkimParts = [e.DKIM_DOMAIN, e.DKIM_SELECTOR, e.DKIM_PRIVATE_KEY_FILE];
  let dkim: DkimConfig | undefined;
  if (dkimParts.some((p) => p !== undefined)) {
    if (!e.DKIM_DOMAIN || !e.DKIM_SELECTOR || !e.DKIM_PRIVATE_KEY_FILE) {
      throw new ConfigError('DKIM needs all three of DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE');
    }
    if (!existsSync(e.DKIM_PRIVATE_KEY_FILE)) {
      throw new ConfigError(`DKIM_PRIVATE_KEY_FILE: no file at ${e.DKIM_PRIVATE_KEY_FILE}`);
    }
    dkim = {
      domain: e.DKIM_DOMAIN,
      selector: e.DKIM_SELECTOR,
      privateKey: readFileSync(e.DKIM_PRIVATE_KEY_FILE, 'utf8'),
    };
  }

  const scheduleTz = e.SCHEDULE_TZ ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!isValidTimeZone(scheduleTz)) {
    throw new ConfigError(`SCHEDULE_TZ: "${scheduleTz}" is not a time zone; use a name such as Europe/Brussels`);
  }

  return {
    dataDir,
    databaseUrl: e.DATABASE_URL ?? path.join(dataDir, 'newsletter.db'),
    port,
    host: e.HOST ?? '127.0.0.1',
    baseUrl: (e.BASE_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    mailFrom: e.MAIL_FROM ?? 'Newsletter <newsletter@localhost>',
    smtpUrl: e.SMTP_URL,
    sendConcurrency: e.SEND_CONCURRENCY ?? 5,
    sendRateLimit: e.SEND_RATE_LIMIT,
    dkim,
    secretKey: e.SECRET_KEY ?? readOrCreateSecret(dataDir),
    scheduleTz,
    outboxDir: path.join(dataDir, 'outbox'),
    mediaDir: path.join(dataDir, 'media'),
    templatesDir: path.resolve(e.TEMPLATES_DIR ?? path.join(PROJECT_ROOT, 'templates')),
    logLevel: e.LOG_LEVEL ?? 'info',
  };
}
