import { createHash } from 'node:crypto';
import type { Db } from '../src/db/database.js';
import {
  claimIdempotencyKey,
  purgeIdempotencyBefore,
  releaseIdempotencyKey,
  storeIdempotentAnswer,
} from './api-key-repository.js';
import { Problem } from './problem.js';
import type { ApiAnswer } from './route.js';

// Idempotency keys on POSTs (the IETF httpapi Idempotency-Key draft): the first request with a key
// acts and its answer is stored; a repeat with the same key and the same request gets that answer
// again (`Idempotent-Replayed: true`), with another request 422, while the first still runs 409.
// Answers are kept for a day, per API key.

const KEEP_MS = 24 * 60 * 60 * 1000;
const PURGE_EVERY_MS = 10 * 60 * 1000;

export interface StoredApiAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export class Idempotency {
  private lastPurge = 0;

  constructor(private readonly deps: { db: Db; now?: () => number }) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Runs `work` once per (API key, idempotency key); a repeat gets the stored answer. */
  async run(
    claim: { apiKeyId: number; key: string; request: unknown },
    work: () => Promise<ApiAnswer>,
  ): Promise<ApiAnswer> {
    const { db } = this.deps;
    await this.purge();
    const fingerprint = createHash('sha256').update(JSON.stringify(claim.request)).digest('hex');
    const stored = await claimIdempotencyKey(db, {
      apiKeyId: claim.apiKeyId,
      key: claim.key,
      fingerprint,
      now: new Date(this.now()).toISOString(),
    });
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        throw new Problem(
          422,
          'idempotency-conflict',
          'Idempotency-Key reused',
          'This Idempotency-Key was used with a different request; use a new key for a new request.',
        );
      }
      if (stored.statusCode === null || stored.responseJson === null) {
        throw new Problem(
          409,
          'idempotency-conflict',
          'Request in progress',
          'The first request with this Idempotency-Key is still being answered; retry in a moment.',
        );
      }
      const answer = JSON.parse(stored.responseJson) as StoredApiAnswer;
      return { ...answer, headers: { ...answer.headers, 'Idempotent-Replayed': 'true' } };
    }
    let answer: ApiAnswer;
    try {
      answer = await work();
    } catch (error) {
      if (error instanceof Problem && error.status < 500) {
        // A refusal is the answer to this request: a retry gets the same refusal.
        await this.store(claim, {
          status: error.status,
          body: error.toJSON(),
          headers: { 'Content-Type': 'application/problem+json' },
        });
        throw error;
      }
      await releaseIdempotencyKey(db, claim.apiKeyId, claim.key);
      throw error;
    }
    await this.store(claim, answer);
    return answer;
  }

  private async store(claim: { apiKeyId: number; key: string }, answer: StoredApiAnswer): Promise<void> {
    await storeIdempotentAnswer(this.deps.db, {
      apiKeyId: claim.apiKeyId,
      key: claim.key,
      statusCode: answer.status,
      responseJson: JSON.stringify(answer),
    });
  }

  private async purge(): Promise<void> {
    const now = this.now();
    if (now - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = now;
    await purgeIdempotencyBefore(this.deps.db, new Date(now - KEEP_MS).toISOString());
  }
}
