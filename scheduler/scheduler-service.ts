import type { Services } from '../src/app/services.js';

export interface RunningScheduler {
  /** Stops the cron tick and drains in-flight sends. */
  stop(): Promise<void>;
}

// STUB: owned by the sending work (issue 4).
export async function startScheduler(services: Services): Promise<RunningScheduler> {
  void services;
  return { stop: async () => {} };
}
