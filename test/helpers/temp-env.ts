import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config/config.js';
import { openServices, type Services } from '../../src/app/services.js';
import { createLogger } from '../../src/log/logger.js';
import type { MjmlCompiler } from '../../src/render/mjml-compiler.js';
import { testDatabaseUrl } from './test-database.js';

export interface TempEnv {
  dir: string;
  env: NodeJS.ProcessEnv;
  config: Config;
  open(options?: { mjml?: MjmlCompiler }): Promise<Services>;
  cleanup(): void;
}

/**
 * A fresh DATA_DIR and a fresh database: a SQLite file in that folder, or in the `postgres` test
 * project a PostgreSQL schema of its own (DATABASE_URL). `extra` overrides environment variables.
 */
export function makeTempEnv(extra: Record<string, string> = {}): TempEnv {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-test-'));
  const databaseUrl = testDatabaseUrl();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dir,
    SECRET_KEY: 'test-secret-key-0123456789abcdef0123456789abcdef',
    BASE_URL: 'http://localhost:3999',
    SCHEDULE_TZ: 'Europe/Brussels',
    LOG_LEVEL: 'silent',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...extra,
  };
  const config = loadConfig(env);
  return {
    dir,
    env,
    config,
    open: (options = {}) => openServices(config, { logger: createLogger('silent'), ...options }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
