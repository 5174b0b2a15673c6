import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { createLogger } from '../../src/log/logger.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { eraseEverywhere } from '../../subscribers/erasure.js';
import { findSubscriberByEmail, withdrawSubscriber } from '../../subscribers/subscriber-repository.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// Issue 9 item 7: after an erasure the person is nowhere on disk: not in the database file, not in
// SQLite's write-ahead log, not in the outbox; and those files are the service user's alone.
// A real SQLite file in WAL mode and the real outbox messenger (no SMTP_URL).

const PERSON = { email: 'zeb.quartz@example.org', name: 'Zebulon Quartzfield' };
const OTHER = { email: 'other.reader@example.org', name: 'Olga Other' };

let parent: string;
let temp: TempEnv;
let services: Services;

beforeEach(async () => {
  // DATA_DIR does not exist yet: the service creates it.
  parent = mkdtempSync(path.join(os.tmpdir(), 'newsletter-erasure-'));
  temp = makeTempEnv({ DATA_DIR: path.join(parent, 'data') });
  services = await temp.open();
});
afterEach(async () => {
  await services.close();
  temp.cleanup();
  rmSync(parent, { recursive: true, force: true });
});

const modeOf = (file: string) => statSync(file).mode & 0o777;

/** Every byte the service keeps on disk for the database and the outbox, as text. */
function everythingOnDisk(): string {
  const dataDir = temp.config.dataDir;
  const files = [
    ...readdirSync(dataDir)
      .filter((n) => n.startsWith('newsletter.db'))
      .map((n) => path.join(dataDir, n)),
    ...readdirSync(temp.config.outboxDir).map((n) => path.join(temp.config.outboxDir, n)),
  ];
  return files.map((f) => readFileSync(f).toString('latin1')).join('\n');
}

describe('erasure on disk', () => {
  it('leaves the address, name and uid nowhere in the database, its WAL or the outbox', async () => {
    const { db, config } = services;
    await addSubscriber(db, config.secretKey, PERSON, { source: 'cli' });
    await addSubscriber(db, config.secretKey, OTHER, { source: 'cli' });
    const person = (await findSubscriberByEmail(db, PERSON.email))!;
    // Some history: a status change in the consent log, and two messages in the outbox.
    await withdrawSubscriber(db, person.id, 'unsubscribed', 'unsubscribe', { source: 'cli' });
    for (const to of [PERSON.email, `"${PERSON.name}" <${PERSON.email}>`, OTHER.email]) {
      await services.messenger.send({ to, subject: 'Hello', html: '<p>Hello</p>', text: 'Hello' });
    }
    const before = everythingOnDisk();
    expect(before).toContain(PERSON.email);
    expect(before).toContain(person.uid);

    const report = await eraseEverywhere(
      { db, secretKey: config.secretKey, outboxDir: config.outboxDir, logger: createLogger('silent') },
      person,
    );
    const after = everythingOnDisk();
    for (const trace of [PERSON.email, PERSON.name, person.uid]) expect(after).not.toContain(trace);
    expect(report).toEqual({ outboxFiles: 2, walTruncated: true });
    // The WAL is empty; everyone else is still there, including their outbox copy.
    expect(statSync(`${config.databaseUrl}-wal`).size).toBe(0);
    expect((await findSubscriberByEmail(db, OTHER.email))?.name).toBe(OTHER.name);
    const outbox = readdirSync(config.outboxDir);
    expect(outbox).toHaveLength(1);
    expect(readFileSync(path.join(config.outboxDir, outbox[0]!), 'utf8')).toMatch(/^To: other\.reader@example\.org$/m);
  });

  it('creates DATA_DIR and the outbox 0700, the database, its WAL and outbox files 0600', async () => {
    const { config } = services;
    await services.messenger.send({ to: OTHER.email, subject: 'Hello', html: '<p>Hello</p>', text: 'Hello' });
    expect(modeOf(config.dataDir)).toBe(0o700);
    expect(modeOf(config.outboxDir)).toBe(0o700);
    for (const file of [config.databaseUrl, `${config.databaseUrl}-wal`, `${config.databaseUrl}-shm`]) {
      expect(modeOf(file), file).toBe(0o600);
    }
    for (const name of readdirSync(config.outboxDir)) expect(modeOf(path.join(config.outboxDir, name))).toBe(0o600);
  });
});
