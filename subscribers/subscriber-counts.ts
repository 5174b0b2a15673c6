import type { Db } from '../src/db/database.js';
import type { SubscriberStatus } from '../src/db/schema.js';
import { countSubscribersByStatus } from './subscriber-repository.js';
import { countActiveByTopic, subscriberListVersion, type ActiveTopicCounts } from './subscriber-listing.js';

export interface SubscriberCountsView {
  byStatus: Record<SubscriberStatus, number>;
  total: number;
  topics: ActiveTopicCounts;
}

/**
 * The counts of the editors' subscriber page. Per status they come from the status index each
 * time (a few milliseconds at 100,000); per topic they need a pass over every active subscriber's
 * topics, so they are kept until the list changes (subscriberListVersion), instead of costing a
 * scan on every view.
 */
export class SubscriberCounts {
  private cached: { version: string; topics: ActiveTopicCounts } | null = null;

  constructor(private readonly deps: { db: Db }) {}

  async current(): Promise<SubscriberCountsView> {
    const { db } = this.deps;
    const byStatus = await countSubscribersByStatus(db);
    const version = await subscriberListVersion(db, byStatus);
    if (this.cached?.version !== version) {
      this.cached = { version, topics: await countActiveByTopic(db, byStatus.active) };
    }
    const total = Object.values(byStatus).reduce((sum, n) => sum + n, 0);
    return { byStatus, total, topics: this.cached.topics };
  }
}
