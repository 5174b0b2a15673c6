import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR, seedDemoIfEmpty } from '../../src/content/demo.js';
import { readImportFolder } from '../../src/content/import.js';
import { topicSlug } from '../../src/content/slug.js';
import { findDemoContent } from '../../editors/demo-removal.js';
import { insertEndpoint } from '../../api/webhooks/webhook-repository.js';
import { eventsAfter, subscriberSubject } from '../../src/db/event-outbox.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { deleteSubscribers, findSubscriberByEmail, listConsentLog } from '../../subscribers/subscriber-repository.js';
import { runCli } from '../helpers/cli.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { signedInEditor, type Client, type RunningApp, type SignedIn } from './admin-helpers.js';

// The demo leaves when the real publication arrives, and takes nothing of the real one with it.

/** A small real publication of our own, sharing one glossary abbreviation (with its own meaning) with the demo. */
function writeRealFolder(dir: string): void {
  mkdirSync(path.join(dir, 'articles'), { recursive: true });
  writeFileSync(
    path.join(dir, 'issue.md'),
    '---\nslug: "march"\ntitle: "Harbour Notes"\nperiod: "March"\nsections: ["Policy", "Ports"]\narticles: ["one.md", "two.md"]\n---\n',
  );
  writeFileSync(
    path.join(dir, 'articles', 'one.md'),
    '---\ntitle: "Quay Rules Revised"\nsection: "Policy"\n---\n\nThe quay rules changed in March.\n',
  );
  writeFileSync(
    path.join(dir, 'articles', 'two.md'),
    '---\ntitle: "New Cranes"\nsection: "Ports"\ntopics: ["Policy"]\n---\n\nTwo cranes arrived.\n',
  );
  writeFileSync(
    path.join(dir, 'publication.md'),
    '---\nname: "Harbour Notes"\npublisher: "Port Office"\n---\n\nNews from the harbour.\n',
  );
  writeFileSync(
    path.join(dir, 'abbreviations.tsv'),
    'abbreviation\tenglish\tchinese\nRFC\tRequest for Cargo\t\nTEU\tTwenty-foot unit\t\n',
  );
}

describe('removing the demo', () => {
  let env: TempEnv;
  let services: Services;
  let folder: string;
  const demo = readImportFolder(DEMO_DIR);
  const demoTopicSlugs = [
    ...new Set([...demo.issue.sections, ...demo.articles.flatMap((a) => a.data.topics)].map(topicSlug)),
  ];

  beforeAll(async () => {
    env = makeTempEnv();
    services = await env.open();
    expect(await seedDemoIfEmpty(services)).toBe('welcome');
    folder = mkdtempSync(path.join(os.tmpdir(), 'real-publication-'));
    writeRealFolder(folder);
  });
  afterAll(async () => {
    await services.close();
    env.cleanup();
    rmSync(folder, { recursive: true, force: true });
  });

  it('the first real import offers the removal', async () => {
    const run = await runCli(['import', folder], env.env);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      'The demo issue "welcome" and its topics are still here; remove them with: newsletter demo remove',
    );
  });

  it('refuses while a subscriber at a real address chose a demo topic, naming them; removes nothing', async () => {
    const key = env.config.secretKey;
    await addSubscriber(
      services.db,
      key,
      { email: 'reader@harbour.example.net', topics: ['privacy'] },
      { source: 'cli' },
    );
    // harbour.example.net is reserved too: make the blocking one a real-looking domain.
    await addSubscriber(
      services.db,
      key,
      { email: 'ana@harbour-news.eu', topics: ['privacy', 'policy'] },
      { source: 'cli' },
    );
    await addSubscriber(services.db, key, { email: 'trial@example.org', topics: ['editions'] }, { source: 'cli' });
    await addSubscriber(services.db, key, { email: 'kept@example.org', topics: ['ports'] }, { source: 'cli' });
    const run = await runCli(['demo', 'remove'], env.env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'Nothing was removed. 1 subscriber(s) chose demo topics: ana@harbour-news.eu (Privacy)',
    );
    expect(run.stderr).toContain('newsletter topics merge');
    expect(await services.db.selectFrom('issues').select('slug').where('slug', '=', 'welcome').execute()).toHaveLength(
      1,
    );
  });

  it('merges the demo topic into a real one: the subscriber keeps their choice, and the consent log says so', async () => {
    // A webhook endpoint that mirrors subscribers (events are recorded only for types one listens to).
    await insertEndpoint(services.db, {
      url: 'https://crm.example.org/hooks',
      description: '',
      events: ['subscriber.updated', 'subscriber.erased'],
      storedSecret: 'v1.unused-here',
      createdBy: 'test',
      now: new Date().toISOString(),
    });
    const run = await runCli(['topics', 'merge', 'privacy', 'policy'], env.env);
    expect(run).toMatchObject({ code: 0 });
    expect(run.stdout).toContain('Merged privacy into policy: 2 subscriber choices');
    const ana = await findSubscriberByEmail(services.db, 'ana@harbour-news.eu');
    expect(ana?.topicSlugs).toEqual(['policy']);
    const log = await listConsentLog(services.db, ana?.id ?? 0);
    expect(log.at(-1)).toMatchObject({
      action: 'topics-merged',
      source: 'cli',
      detail: '{"from":"privacy","into":"policy"}',
    });
    // Systems that mirror subscribers (webhooks) hear of the changed topics.
    const events = await eventsAfter(services.db, 0, 1000);
    const updated = events.filter(
      (e) => e.type === 'subscriber.updated' && e.subject === subscriberSubject(ana?.uid ?? ''),
    );
    expect(updated.at(-1)?.data).toMatchObject({ email: 'ana@harbour-news.eu', topics: ['policy'] });
  });

  it('then removes every row the demo added and nothing of the real publication', async () => {
    // The endpoint added above wants erasures: it hears of the trial sign-up's removal, and nothing else about it.
    const trialUid = (await findSubscriberByEmail(services.db, 'trial@example.org'))?.uid ?? '';
    expect(trialUid).not.toBe('');
    const run = await runCli(['demo', 'remove'], env.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'Removed the demo: issue welcome, 5 articles, 3 topics, 3 glossary rows, 1 trial subscribers\n',
    );
    const db = services.db;
    expect(await db.selectFrom('issues').select('slug').execute()).toEqual([{ slug: 'march' }]);
    expect(
      await db
        .selectFrom('articles')
        .select('slug')
        .where(
          'slug',
          'in',
          demo.articles.map((a) => a.slug),
        )
        .execute(),
    ).toEqual([]);
    expect(await db.selectFrom('topics').select('slug').where('slug', 'in', demoTopicSlugs).execute()).toEqual([]);
    expect((await db.selectFrom('topics').select('slug').orderBy('slug').execute()).map((t) => t.slug)).toEqual([
      'policy',
      'ports',
    ]);
    const glossary = await db
      .selectFrom('glossary')
      .select(['abbreviation', 'english'])
      .orderBy('abbreviation')
      .execute();
    expect(glossary).toEqual([
      { abbreviation: 'RFC', english: 'Request for Cargo' },
      { abbreviation: 'TEU', english: 'Twenty-foot unit' },
    ]);
    expect(await db.selectFrom('issue_snapshots').select('issue_id').execute()).toEqual([]);
    const emails = (await db.selectFrom('subscribers').select('email').orderBy('email').execute()).map((s) => s.email);
    expect(emails).toEqual(['ana@harbour-news.eu', 'kept@example.org', 'reader@harbour.example.net']);
    const aboutTrial = (await eventsAfter(db, 0, 1000)).filter((e) => e.subject === subscriberSubject(trialUid));
    expect(aboutTrial.map((e) => [e.type, e.data])).toEqual([
      ['subscriber.erased', { id: trialUid, erasedAt: expect.any(String) }],
    ]);
    expect((await db.selectFrom('publication').select('name').executeTakeFirst())?.name).toBe('Harbour Notes');
    expect(await findDemoContent(db)).toBeNull();
    expect((await runCli(['demo', 'remove'], env.env)).stdout).toBe(
      'Nothing of the demo is left; nothing was removed\n',
    );
  });
});

describe('the demo in the editors’ app', () => {
  let signedIn: SignedIn;
  let env: TempEnv;
  let services: Services;
  let app: RunningApp;
  let admin: Client;

  beforeAll(async () => {
    signedIn = await signedInEditor({
      email: 'boss@example.org',
      role: 'admin',
      withLongIssue: false,
      seed: async (s) => {
        await seedDemoIfEmpty(s);
      },
    });
    ({ env, services, app, client: admin } = signedIn);
  });
  afterAll(() => signedIn.close());

  it('refuses in the app’s words (its pages, no command) while a real subscriber chose a demo topic', async () => {
    await addSubscriber(
      services.db,
      env.config.secretKey,
      { email: 'ana@harbour-news.eu', topics: ['privacy'] },
      {
        source: 'cli',
      },
    );
    const token = await admin.csrfToken('/admin/settings/demo');
    const res = await admin.post('/admin/settings/demo/remove', { _csrf: token });
    expect(res.status).toBe(409);
    const page = await res.text();
    expect(page).toContain('ana@harbour-news.eu (Privacy)');
    expect(page).toContain('Settings → Topics, Merge');
    expect(page).not.toContain('newsletter topics');
    const ana = await findSubscriberByEmail(services.db, 'ana@harbour-news.eu');
    await deleteSubscribers(services.db, [ana?.id ?? 0]);
  });

  it('lists what the demo added and removes it with one button, for admins', async () => {
    const page = await (await admin.get('/admin/settings/demo')).text();
    expect(page).toContain('The issue <a href="/admin/issues/welcome">Demo Newsletter</a>');
    expect(page).toContain('Glossary rows: MJML, DKIM, SMTP, RFC');
    const token = /<meta name="csrf-token" content="([^"]+)">/.exec(page)?.[1] ?? '';
    const res = await admin.post('/admin/settings/demo/remove', { _csrf: token });
    expect(res.headers.get('location')).toBe('/admin?notice=demo-removed');
    expect(await services.db.selectFrom('issues').select('slug').execute()).toEqual([]);
    expect(await services.db.selectFrom('topics').select('slug').execute()).toEqual([]);
    expect(await services.db.selectFrom('glossary').select('abbreviation').execute()).toEqual([]);
    expect(await (await admin.get('/admin/settings/demo')).text()).toContain('Nothing of the demo is left');
    expect((await fetch(`${app.url}/issues/welcome`)).status).toBe(404);
  });
});
