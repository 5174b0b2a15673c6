import type { Db } from '../src/db/database.js';
import { getPublication, listTopics } from '../src/content/content-repository.js';
import { listClickEventsOf, type PersonalClick } from '../src/tracking/tracking-repository.js';
import {
  listConsentLog,
  listDeliveriesOf,
  type ConsentEntry,
  type DeliveryRecord,
  type Subscriber,
} from './subscriber-repository.js';

/** Everything the service holds about one subscriber, as offered for download on the preferences page. */
export interface SubscriberDataExport {
  exportedAt: string;
  publication: string;
  subscriber: {
    email: string;
    name: string;
    status: string;
    /** The random id carried in this person's links (not the database row id). */
    publicId: string;
    signedUpAt: string;
    confirmedAt: string | null;
    withdrawnAt: string | null;
    updatedAt: string;
    topics: { slug: string; name: string }[] | 'all';
  };
  consentLog: ConsentEntry[];
  deliveries: DeliveryRecord[];
  /**
   * Links they clicked (and emails opened, when opens are counted), recorded only while they had
   * agreed to individual tracking and the publication's level was `individual`.
   */
  clicks: PersonalClick[];
}

export async function buildDataExport(db: Db, subscriber: Subscriber): Promise<SubscriberDataExport> {
  const topics = await listTopics(db);
  return {
    exportedAt: new Date().toISOString(),
    publication: (await getPublication(db)).name,
    subscriber: {
      email: subscriber.email,
      name: subscriber.name,
      status: subscriber.status,
      publicId: subscriber.uid,
      signedUpAt: subscriber.createdAt,
      confirmedAt: subscriber.confirmedAt,
      withdrawnAt: subscriber.unsubscribedAt,
      updatedAt: subscriber.updatedAt,
      topics:
        subscriber.topicSlugs.length === 0
          ? 'all'
          : topics.filter((t) => subscriber.topicSlugs.includes(t.slug)).map((t) => ({ slug: t.slug, name: t.name })),
    },
    consentLog: await listConsentLog(db, subscriber.id),
    deliveries: await listDeliveriesOf(db, subscriber.id),
    clicks: await listClickEventsOf(db, subscriber.id),
  };
}
