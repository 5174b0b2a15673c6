import { createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseMailFrom } from './mail-from.js';

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

/** Bounces, complaints and provider events (issue 14); see scheduler/bounces/. */
export interface BounceConfig {
  /** Envelope sender domain: `bounces+<token>@domain` on every issue message. */
  domain: string | undefined;
  /** The built-in SMTP receiver's port and bind address (loopback unless configured). */
  smtpPort: number | undefined;
  smtpHost: string;
  /** `imaps://user:pass@host/INBOX`: a bounce mailbox to poll. */
  imapUrl: string | undefined;
  /** Where processed mailbox messages are moved to (never deleted). */
  imapProcessedFolder: string;
  /** Soft bounces on this many consecutive issues make a subscriber bounced. */
  softLimit: number;
  /** A send pauses when complaints / sent passes this (0.003 = 0.3 %)… */
  pauseComplaintRate: number;
  /** …or hard bounces / sent passes this… */
  pauseHardBounceRate: number;
  /** …once at least this many messages of the issue were sent. */
  pauseAfterSent: number;
  mailgunSigningKey: string | undefined;
  /** `user:password` that Postmark's webhook sends with Basic authentication. */
  postmarkAuth: string | undefined;
  /** SendGrid's verification key: base64 DER (SPKI) or PEM. */
  sendgridPublicKey: string | undefined;
  /** Only SNS messages from these topics are taken; empty = any topic (see the README). */
  sesTopicArns: string[];
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
  /** SMTP_TIMEOUT: how long a reply may be overdue before the message counts as a temporary failure. */
  smtpTimeoutMs: number;
  /** SMTP_ALLOW_PLAINTEXT_AUTH: send credentials to a non-loopback server that offers no TLS. */
  smtpAllowPlaintextAuth: boolean;
  /** SEND_STOP_TIMEOUT: how long a stopping sender waits for replies before it leaves them to be resumed. */
  sendStopTimeoutMs: number;
  /** SEND_LEASE_SECONDS: a sender's lease; its claims are taken over a lease after it ran out. */
  sendLeaseMs: number;
  /** SEND_WORKER: whether `serve` runs a sender too. */
  sendWorker: boolean;
  /** SCHEDULER_TICK_SECONDS: how often the scheduler starts due issues. */
  schedulerTickMs: number;
  dkim: DkimConfig | undefined;
  secretKey: string;
  scheduleTz: string;
  outboxDir: string;
  mediaDir: string;
  templatesDir: string;
  logLevel: string;
  /** `newsletter serve` loads the demo issue into an empty database (DEMO, default true). */
  demo: boolean;
  bounces: BounceConfig;
  /** The most bytes an email's HTML part may take as sent (quoted-printable); larger editions get teasers. */
  emailHtmlBudget: number;
  /** The JSON API (issue 15): API_RATE_LIMIT requests per key per minute. */
  api: { rateLimitPerMinute: number };
  /** Outgoing webhooks (issue 15): WEBHOOK_TIMEOUT, how long one delivery may wait for an answer. */
  webhooks: { timeoutMs: number };
  /** EMBED_ORIGINS: origins (https://www.example.org) whose pages may post the embedded sign-up form. */
  embedOrigins: string[];
  /**
   * Click tracking (issue 15): CLICK_SCANNER_SECONDS, how soon after a message was sent a click or
   * open counts as a security scanner's, not a reader's (0: the rule is off).
   */
  tracking: { scannerSeconds: number };
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

const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}$/i;

const portNumber = (name: string, example: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a port number such as ${example}`)
    .transform(Number)
    .refine((n) => n >= 0 && n < 65536, `${name} must be between 0 and 65535`);

/** A share written as a percentage (`0.3%`) or a fraction (`0.003`). */
const rate = (name: string) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?%?$/, `${name} must be a share such as 0.3% or 0.003`)
    .transform((v) => (v.endsWith('%') ? Number(v.slice(0, -1)) / 100 : Number(v)))
    .refine((n) => n > 0 && n <= 1, `${name} must be more than 0 and at most 100%`);

const flag = (name: string) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: `${name} must be true or false` })
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const envSchema = z.object({
  DATA_DIR: optionalText,
  DATABASE_URL: optionalText,
  PORT: portNumber('PORT', 3000).optional(),
  HOST: optionalText,
  BASE_URL: optionalText.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), {
    message: 'BASE_URL must be an absolute http(s) URL such as https://news.example.org',
  }),
  MAIL_FROM: optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const parsed = parseMailFrom(v);
    if ('value' in parsed) return parsed.value;
    ctx.addIssue({ code: 'custom', message: parsed.problem });
    return z.NEVER;
  }),
  SMTP_URL: optionalText.refine((v) => v === undefined || /^smtps?:\/\//.test(v), {
    message: 'SMTP_URL must look like smtp://user:pass@host:port or smtps://…',
  }),
  SEND_CONCURRENCY: positiveInt('SEND_CONCURRENCY').optional(),
  SEND_RATE_LIMIT: positiveInt('SEND_RATE_LIMIT').optional(),
  SMTP_TIMEOUT: positiveInt('SMTP_TIMEOUT').optional(),
  SMTP_ALLOW_PLAINTEXT_AUTH: flag('SMTP_ALLOW_PLAINTEXT_AUTH').optional(),
  SEND_STOP_TIMEOUT: positiveInt('SEND_STOP_TIMEOUT').optional(),
  SEND_LEASE_SECONDS: positiveInt('SEND_LEASE_SECONDS').optional(),
  SEND_WORKER: flag('SEND_WORKER').optional(),
  SCHEDULER_TICK_SECONDS: positiveInt('SCHEDULER_TICK_SECONDS').optional(),
  DKIM_DOMAIN: optionalText,
  DKIM_SELECTOR: optionalText,
  DKIM_PRIVATE_KEY_FILE: optionalText,
  SECRET_KEY: optionalText.refine((v) => v === undefined || v.length >= 32, {
    message: 'SECRET_KEY must be at least 32 characters (or leave it unset to generate one in DATA_DIR)',
  }),
  SCHEDULE_TZ: optionalText,
  TEMPLATES_DIR: optionalText,
  MEDIA_DIR: optionalText,
  BOUNCE_DOMAIN: optionalText.refine((v) => v === undefined || DOMAIN_NAME.test(v), {
    message: 'BOUNCE_DOMAIN must be a domain name such as bounces.example.org',
  }),
  BOUNCE_SMTP_PORT: portNumber('BOUNCE_SMTP_PORT', 2525).optional(),
  BOUNCE_SMTP_HOST: optionalText,
  BOUNCE_IMAP_URL: optionalText.refine((v) => v === undefined || /^imaps?:\/\/[^\s]+$/.test(v), {
    message: 'BOUNCE_IMAP_URL must look like imaps://user:pass@host/INBOX',
  }),
  BOUNCE_IMAP_PROCESSED_FOLDER: optionalText,
  BOUNCE_SOFT_LIMIT: positiveInt('BOUNCE_SOFT_LIMIT').optional(),
  BOUNCE_PAUSE_COMPLAINT_RATE: rate('BOUNCE_PAUSE_COMPLAINT_RATE').optional(),
  BOUNCE_PAUSE_HARD_BOUNCE_RATE: rate('BOUNCE_PAUSE_HARD_BOUNCE_RATE').optional(),
  BOUNCE_PAUSE_AFTER: positiveInt('BOUNCE_PAUSE_AFTER').optional(),
  MAILGUN_WEBHOOK_SIGNING_KEY: optionalText,
  POSTMARK_WEBHOOK_AUTH: optionalText.refine((v) => v === undefined || v.includes(':'), {
    message: 'POSTMARK_WEBHOOK_AUTH must be user:password (the credentials set on the Postmark webhook)',
  }),
  SENDGRID_WEBHOOK_PUBLIC_KEY: optionalText,
  SES_TOPIC_ARNS: optionalText,
  EMAIL_HTML_BUDGET: positiveInt('EMAIL_HTML_BUDGET')
    .refine(
      (n) => n >= 16_384,
      'EMAIL_HTML_BUDGET must be at least 16384 (16 KiB): the frame and a teaser per article need room',
    )
    .optional(),
  API_RATE_LIMIT: positiveInt('API_RATE_LIMIT').optional(),
  WEBHOOK_TIMEOUT: positiveInt('WEBHOOK_TIMEOUT').optional(),
  CLICK_SCANNER_SECONDS: z
    .string()
    .regex(/^\d{1,6}$/, 'CLICK_SCANNER_SECONDS must be a whole number of seconds (0 turns the rule off)')
    .transform(Number)
    .optional(),
  EMBED_ORIGINS: optionalText.transform((v, ctx) => {
    const origins = (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    for (const origin of origins) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {
        parsed = undefined;
      }
      if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin.replace(/\/$/, '')) {
        ctx.addIssue({
          code: 'custom',
          message: `EMBED_ORIGINS: "${origin}" is not an origin; write scheme, host and port only, e.g. https://www.example.org`,
        });
      }
    }
    return origins.map((o) => o.replace(/\/$/, ''));
  }),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  DEMO: optionalText
    .refine((v) => v === undefined || /^(true|false|1|0|yes|no)$/i.test(v), { message: 'DEMO must be true or false' })
    .transform((v) => v === undefined || /^(true|1|yes)$/i.test(v)),
});

/** 90 KiB: under Gmail's clipping point (about 102 KB) with room for per-subscriber fields. */
export const DEFAULT_EMAIL_HTML_BUDGET = 92_160;

export class ConfigError extends Error {}

/** Reads `.env` from the working folder when present (real environment variables win). */
export function loadDotEnv(cwd = process.cwd()): void {
  const file = path.join(cwd, '.env');
  if (existsSync(file)) process.loadEnvFile(file);
}

/**
 * The generated SECRET_KEY. Two first starts at once must end with one key: the new key is written
 * in full to a file of this process's own (`wx`), then linked to `secret.key`, which succeeds for
 * exactly one process and fails with EEXIST for the others; everyone then reads back the key that
 * won. The link makes the key appear whole, so nobody reads a half-written file.
 */
function readOrCreateSecret(dataDir: string): string {
  const file = path.join(dataDir, 'secret.key');
  if (!existsSync(file)) {
    const mine = path.join(dataDir, `secret.key.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      writeFileSync(mine, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx', flush: true });
      linkSync(mine, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      rmSync(mine, { force: true });
    }
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < 32) {
    throw new ConfigError(`${file} holds no usable key (under 32 characters): delete it, or set SECRET_KEY`);
  }
  return secret;
}

/**
 * Everything the service keeps is written under DATA_DIR, so a folder it cannot write is refused
 * at start with what to do, by creating and removing a file there (root ignores permission bits,
 * a read-only mount or a full disk it does not). It was a raw SqliteError from deep inside.
 */
function assertWritableDataDir(dataDir: string): void {
  const probe = path.join(dataDir, `.write-test-${process.pid}`);
  try {
    // Created readable by the service's user alone: it holds the database, the outbox and the key.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(probe, '', { flag: 'wx' });
    rmSync(probe);
  } catch (error) {
    rmSync(probe, { force: true });
    const { code, message } = error as NodeJS.ErrnoException;
    const why =
      code === 'EROFS'
        ? 'it is on a read-only file system'
        : code === 'ENOSPC' || code === 'EDQUOT'
          ? 'its disk is full'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : (message.split('\n')[0] ?? String(code));
    throw new ConfigError(
      `DATA_DIR: ${dataDir} cannot be written (${why}); make it writable for the user running the service, or set DATA_DIR to a folder that is`,
    );
  }
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
  assertWritableDataDir(dataDir);
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

  if (e.SENDGRID_WEBHOOK_PUBLIC_KEY !== undefined) {
    try {
      const text = e.SENDGRID_WEBHOOK_PUBLIC_KEY;
      const key = text.startsWith('-----BEGIN')
        ? createPublicKey(text)
        : createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
      if (key.asymmetricKeyType !== 'ec') throw new Error('not an ECDSA key');
    } catch {
      throw new ConfigError(
        'SENDGRID_WEBHOOK_PUBLIC_KEY must be the verification key SendGrid shows for the signed Event Webhook (base64, or PEM)',
      );
    }
  }
  if (e.BOUNCE_SMTP_PORT !== undefined && e.BOUNCE_DOMAIN === undefined) {
    throw new ConfigError(
      'BOUNCE_SMTP_PORT needs BOUNCE_DOMAIN: the receiver takes mail for bounces+…@BOUNCE_DOMAIN only',
    );
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
    smtpTimeoutMs: (e.SMTP_TIMEOUT ?? 60) * 1000,
    smtpAllowPlaintextAuth: e.SMTP_ALLOW_PLAINTEXT_AUTH ?? false,
    sendStopTimeoutMs: (e.SEND_STOP_TIMEOUT ?? 20) * 1000,
    sendLeaseMs: (e.SEND_LEASE_SECONDS ?? 30) * 1000,
    sendWorker: e.SEND_WORKER ?? true,
    schedulerTickMs: (e.SCHEDULER_TICK_SECONDS ?? 60) * 1000,
    dkim,
    secretKey: e.SECRET_KEY ?? readOrCreateSecret(dataDir),
    scheduleTz,
    outboxDir: path.join(dataDir, 'outbox'),
    // A folder every web process reads (README: Running several web servers).
    mediaDir: path.resolve(e.MEDIA_DIR ?? path.join(dataDir, 'media')),
    templatesDir: path.resolve(e.TEMPLATES_DIR ?? path.join(PROJECT_ROOT, 'templates')),
    logLevel: e.LOG_LEVEL ?? 'info',
    demo: e.DEMO,
    api: { rateLimitPerMinute: e.API_RATE_LIMIT ?? 600 },
    webhooks: { timeoutMs: (e.WEBHOOK_TIMEOUT ?? 10) * 1000 },
    embedOrigins: e.EMBED_ORIGINS,
    tracking: { scannerSeconds: e.CLICK_SCANNER_SECONDS ?? 30 },
    bounces: {
      domain: e.BOUNCE_DOMAIN?.toLowerCase(),
      smtpPort: e.BOUNCE_SMTP_PORT,
      smtpHost: e.BOUNCE_SMTP_HOST ?? '127.0.0.1',
      imapUrl: e.BOUNCE_IMAP_URL,
      imapProcessedFolder: e.BOUNCE_IMAP_PROCESSED_FOLDER ?? 'Processed',
      softLimit: e.BOUNCE_SOFT_LIMIT ?? 3,
      pauseComplaintRate: e.BOUNCE_PAUSE_COMPLAINT_RATE ?? 0.003,
      pauseHardBounceRate: e.BOUNCE_PAUSE_HARD_BOUNCE_RATE ?? 0.05,
      pauseAfterSent: e.BOUNCE_PAUSE_AFTER ?? 1000,
      mailgunSigningKey: e.MAILGUN_WEBHOOK_SIGNING_KEY,
      postmarkAuth: e.POSTMARK_WEBHOOK_AUTH,
      sendgridPublicKey: e.SENDGRID_WEBHOOK_PUBLIC_KEY,
      sesTopicArns: (e.SES_TOPIC_ARNS ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    },
    emailHtmlBudget: e.EMAIL_HTML_BUDGET ?? DEFAULT_EMAIL_HTML_BUDGET,
  };
}
