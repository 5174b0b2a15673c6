import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import type { Services } from '../../src/app/services.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { insertSubscribers } from './fixtures.js';

/** The project's own demo issue (no ../shared needed) and its topics. */
export const DEMO_TOPICS = ['getting-started', 'editions', 'sending', 'privacy'] as const;

export interface DemoSend {
  env: TempEnv;
  services: Services;
  slug: string;
}

/**
 * A temp DATA_DIR with the demo issue and `subscribers` active readers `r0@example.org`…, a third of
 * them with no topic (the whole issue), the rest with one or two demo topics.
 */
export async function demoSend(
  subscribers: number,
  extraEnv: Record<string, string>,
  cleanups: (() => Promise<void> | void)[],
): Promise<DemoSend> {
  const env = makeTempEnv(extraEnv);
  cleanups.push(() => env.cleanup());
  const services = await env.open();
  cleanups.push(() => services.close());
  const { slug } = await importFolder(services.db, DEMO_DIR);
  await insertDemoReaders(services, subscribers);
  return { env, services, slug };
}

export async function insertDemoReaders(services: Services, count: number, from = 0): Promise<void> {
  await insertSubscribers(
    services.db,
    Array.from({ length: count }, (_, k) => {
      const i = from + k;
      const topics: string[] =
        i % 3 === 0 ? [] : i % 3 === 1 ? [DEMO_TOPICS[i % 4] ?? 'editions'] : ['sending', 'privacy'];
      return { email: `r${i}@example.org`, topics };
    }),
  );
}
