import { truncateWal, type Db } from '../src/db/database.js';
import type { Logger } from '../src/log/logger.js';
import { deleteOutboxMessagesTo } from '../src/mail/outbox-files.js';
import { erasedAddressHash } from './address.js';
import { eraseSubscriber } from './subscriber-repository.js';

// Erasure leaves the person nowhere on disk (issue 9 item 7): the rows go (SQLite's secure_delete
// overwrites them in the database file), the write-ahead log that still holds the old pages is
// copied back and truncated to zero bytes, and the outbox's copies of messages to them are deleted.
// Only HMAC(SECRET_KEY, address) stays, in erased_addresses.

export interface ErasureDeps {
  db: Db;
  secretKey: string;
  outboxDir: string;
  logger: Logger;
}

export interface ErasureReport {
  /** Outbox files addressed to the person that were deleted. */
  outboxFiles: number;
  /** False when another process's readers kept the write-ahead log from being truncated. */
  walTruncated: boolean;
}

export async function eraseEverywhere(
  deps: ErasureDeps,
  subscriber: { id: number; email: string },
): Promise<ErasureReport> {
  await eraseSubscriber(deps.db, subscriber.id, erasedAddressHash(deps.secretKey, subscriber.email));
  const deleted = await deleteOutboxMessagesTo(deps.outboxDir, subscriber.email);
  const walTruncated = await truncateWal(deps.db);
  // The subscriber's id only: the address must not reach the log either.
  deps.logger.info({ subscriber: subscriber.id, outboxFiles: deleted.length, walTruncated }, 'subscriber erased');
  if (!walTruncated) {
    deps.logger.warn(
      'erasure: another process kept the write-ahead log from being truncated; its old pages are overwritten as the database is written',
    );
  }
  return { outboxFiles: deleted.length, walTruncated };
}
