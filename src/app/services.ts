import type { Config } from '../config/config.js';
import { databaseDialect, migrate, openDatabase, type Db, type DialectName } from '../db/database.js';
import { StorageHealth } from '../db/storage-health.js';
import { IssueRenderer } from '../render/issue-renderer.js';
import { MjmlCompiler } from '../render/mjml-compiler.js';
import { Views } from '../render/views.js';
import { createMessenger, type Messenger } from '../mail/messenger.js';
import { createLogger, type Logger } from '../log/logger.js';
import { ClickRecorder } from '../tracking/click-recorder.js';
import { addCounts } from '../tracking/tracking-repository.js';

/** Everything a command or the server needs, built once and passed in as one object. */
export interface Services {
  config: Config;
  db: Db;
  /** The migrations that opening the database applied (none when it was up to date). */
  appliedMigrations: string[];
  /** Whether the database can be written (for /healthz). */
  storage: StorageHealth;
  /** Which database DATABASE_URL chose, for the few statements that differ (see src/db/migration-kit.ts). */
  dialect: DialectName;
  logger: Logger;
  /** MJML in a short-lived worker thread, shared by issue rendering and subscriber mail. */
  mjml: MjmlCompiler;
  renderer: IssueRenderer;
  views: Views;
  messenger: Messenger;
  /** Clicks and opens of tracked links, written in batches off the request path (src/tracking). */
  clicks: ClickRecorder;
  close(): Promise<void>;
}

export async function openServices(
  config: Config,
  options: { logger?: Logger; mjml?: MjmlCompiler } = {},
): Promise<Services> {
  const storage = new StorageHealth();
  const db = openDatabase(config.databaseUrl, { onQueryError: (error) => storage.record(error) });
  const appliedMigrations = await migrate(db);
  const logger = options.logger ?? createLogger(config.logLevel);
  const views = new Views(config.templatesDir);
  const mjml = options.mjml ?? new MjmlCompiler();
  let messenger: Messenger | undefined;
  const clicks = new ClickRecorder(
    { addCounts: (batch) => addCounts(db, batch) },
    { onError: (error) => logger.error({ err: error }, 'clicks could not be written; kept for the next try') },
  );
  const services: Services = {
    config,
    db,
    appliedMigrations,
    storage,
    dialect: databaseDialect(config.databaseUrl),
    logger,
    mjml,
    renderer: new IssueRenderer({ db, config, views, mjml }),
    views,
    // Created on first use: most commands never send mail.
    get messenger(): Messenger {
      messenger ??= createMessenger(config);
      return messenger;
    },
    clicks,
    async close() {
      await clicks.stop();
      messenger?.close();
      await mjml.close();
      await db.destroy();
    },
  };
  return services;
}
