import type { Db } from '../src/db/database.js';
import { DEMO_DIR } from '../src/content/demo.js';
import { readImportFolder, type ImportBundle } from '../src/content/import.js';
import { getPublication, listGlossary, touchAllDrafts } from '../src/content/content-repository.js';
import { topicSlug } from '../src/content/slug.js';
import { isReservedAddress } from '../subscribers/address.js';
import { chosenTopicIds, deleteSubscribers, subscribersChoosing } from '../subscribers/subscriber-repository.js';

// `newsletter demo remove` and the app's "Remove the demo": everything the demo issue brought into
// the database goes, and nothing of the real publication. What the demo added is read from the
// demo folder itself (so databases seeded before this existed are handled alike) and matched
// strictly: the demo issue by slug and title; its articles by slug, unless a real issue holds them;
// its topics, unless a real article or issue uses them; its glossary rows and publication details
// only where they still read exactly as the demo wrote them. Subscribers at addresses reserved for
// examples (example.org, *.test, localhost …) whose every chosen topic is a demo topic were trials
// of the demo and go too. A subscriber at a real address who chose a demo topic stops the removal.

/** What removing the demo would delete, and what stops it. */
export interface DemoContent {
  issue: { id: number; slug: string; title: string } | null;
  articleIds: number[];
  /** Demo articles a real issue holds: they stay. */
  keptArticles: string[];
  topics: { id: number; slug: string; name: string }[];
  glossary: string[];
  publication: boolean;
  trialSubscriberIds: number[];
  /** Subscribers at real addresses who chose a demo topic. */
  chosenBy: { email: string; topics: string[] }[];
  /** Deliveries of the demo issue to real subscribers (it was really sent: a record). */
  realDeliveries: number;
}

export interface DemoRemovalReport {
  issue: string | null;
  articles: number;
  topics: number;
  glossary: number;
  subscribers: number;
  publication: boolean;
  keptArticles: string[];
}

/** True when a removal found nothing of the demo left. */
export function removedNothing(report: DemoRemovalReport): boolean {
  return !report.issue && !report.articles && !report.topics && !report.glossary && !report.publication;
}

/** Refusal of `removeDemo`: the message says who is in the way and what to do. */
export class DemoInUseError extends Error {}

let demoBundle: ImportBundle | undefined;
function demoFolder(): ImportBundle {
  demoBundle ??= readImportFolder(DEMO_DIR);
  return demoBundle;
}

/** The demo's footprint in the database, or null when none of it is left. */
export async function findDemoContent(db: Db): Promise<DemoContent | null> {
  const demo = demoFolder();
  const issue =
    (await db
      .selectFrom('issues')
      .select(['id', 'slug', 'title'])
      .where('slug', '=', demo.issue.slug)
      .where('title', '=', demo.issue.title)
      .executeTakeFirst()) ?? null;
  const otherIssues = (eb: Db) =>
    eb
      .selectFrom('issue_articles')
      .select('article_id')
      .where('issue_id', '<>', issue?.id ?? -1);
  const articles = await db
    .selectFrom('articles')
    .select(['id', 'slug'])
    .where(
      'slug',
      'in',
      demo.articles.map((a) => a.slug),
    )
    .execute();
  const inRealIssues = new Set(
    (
      await otherIssues(db)
        .where('article_id', 'in', articles.map((a) => a.id).concat(-1))
        .execute()
    ).map((r) => r.article_id),
  );
  const articleIds = articles.filter((a) => !inRealIssues.has(a.id)).map((a) => a.id);
  const keptArticles = articles.filter((a) => inRealIssues.has(a.id)).map((a) => a.slug);

  const topics = await unusedDemoTopics(db, demo, issue?.id ?? -1, articleIds);
  const glossary = await demoGlossaryRows(db, demo);
  const publication = await isDemoPublication(db, demo);

  const choosers = await subscribersChoosing(
    db,
    topics.map((t) => t.id),
  );
  const all = await chosenTopicIds(
    db,
    choosers.map((s) => s.id),
  );
  const demoTopicIds = new Set(topics.map((t) => t.id));
  const trial = choosers.filter(
    (s) => isReservedAddress(s.email) && (all.get(s.id) ?? []).every((id) => demoTopicIds.has(id)),
  );
  const chosenBy = choosers
    .filter((s) => !isReservedAddress(s.email))
    .map((s) => ({ email: s.email, topics: s.topicIds.map((id) => topics.find((t) => t.id === id)?.name ?? '') }));
  const realDeliveries = issue
    ? Number(
        (
          await db
            .selectFrom('deliveries')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('issue_id', '=', issue.id)
            .where('subscriber_id', 'not in', trial.map((s) => s.id).concat(-1))
            .executeTakeFirst()
        )?.n ?? 0,
      )
    : 0;

  const content: DemoContent = {
    issue,
    articleIds,
    keptArticles,
    topics,
    glossary,
    publication,
    trialSubscriberIds: trial.map((s) => s.id),
    chosenBy,
    realDeliveries,
  };
  const nothing = !issue && !articleIds.length && !topics.length && !glossary.length && !publication;
  return nothing ? null : content;
}

/** Demo topics no article or issue outside the demo uses. */
async function unusedDemoTopics(
  db: Db,
  demo: ImportBundle,
  demoIssueId: number,
  demoArticleIds: number[],
): Promise<DemoContent['topics']> {
  const slugs = [...new Set([...demo.issue.sections, ...demo.articles.flatMap((a) => a.data.topics)].map(topicSlug))];
  const candidates = await db.selectFrom('topics').select(['id', 'slug', 'name']).where('slug', 'in', slugs).execute();
  if (candidates.length === 0) return [];
  const ids = candidates.map((t) => t.id);
  const excluded = demoArticleIds.concat(-1);
  const sections = await db
    .selectFrom('articles')
    .select('section_topic_id as topic_id')
    .where('section_topic_id', 'in', ids)
    .where('id', 'not in', excluded)
    .execute();
  const extra = await db
    .selectFrom('article_topics')
    .select('topic_id')
    .where('topic_id', 'in', ids)
    .where('article_id', 'not in', excluded)
    .execute();
  const inIssues = await db
    .selectFrom('issue_sections')
    .select('topic_id')
    .where('topic_id', 'in', ids)
    .where('issue_id', '<>', demoIssueId)
    .execute();
  const used = new Set([...sections, ...extra, ...inIssues].map((r) => r.topic_id));
  return candidates.filter((t) => !used.has(t.id));
}

async function demoGlossaryRows(db: Db, demo: ImportBundle): Promise<string[]> {
  const rows = await listGlossary(db);
  return (demo.glossary ?? [])
    .filter((d) =>
      rows.some((r) => r.abbreviation === d.abbreviation && r.english === d.english && r.chinese === d.chinese),
    )
    .map((d) => d.abbreviation);
}

async function isDemoPublication(db: Db, demo: ImportBundle): Promise<boolean> {
  const p = demo.publication;
  const row = await db.selectFrom('publication').select('id').where('id', '=', 1).executeTakeFirst();
  if (!p || !row) return false;
  const now = await getPublication(db);
  return (
    now.name === p.name &&
    now.publisher === p.publisher &&
    now.cadence === p.cadence &&
    now.contact === p.contact &&
    now.aboutMarkdown === p.about
  );
}

/** Where the editor reads a refusal: the app names its pages, the command line its commands. */
export type Surface = 'app' | 'cli';

/** Why the demo cannot go, in words that say what to do where the editor is; undefined when it can. */
export function demoRemovalProblem(content: DemoContent, surface: Surface): string | undefined {
  if (content.realDeliveries > 0) {
    return `The demo issue "${content.issue?.slug ?? ''}" was sent to ${content.realDeliveries} subscriber(s): it is a record of what they received. Withdraw it from the archive instead.`;
  }
  if (content.chosenBy.length > 0) {
    const names = content.chosenBy
      .slice(0, 5)
      .map((s) => `${s.email} (${s.topics.join(', ')})`)
      .join('; ');
    const more = content.chosenBy.length > 5 ? ` and ${content.chosenBy.length - 5} more` : '';
    return (
      `${content.chosenBy.length} subscriber(s) chose demo topics: ${names}${more}. Their choice is theirs: ` +
      `merge each demo topic into one of your topics first (${surface === 'app' ? 'Settings → Topics, Merge' : 'newsletter topics merge <demo-topic> <your-topic>'}), then remove the demo.`
    );
  }
  return undefined;
}

/** Removes what the demo added, in one transaction; throws DemoInUseError (nothing removed) when it cannot. */
export async function removeDemo(db: Db, surface: Surface): Promise<DemoRemovalReport> {
  return db.transaction().execute(async (trx) => {
    const content = await findDemoContent(trx);
    if (!content) {
      return { issue: null, articles: 0, topics: 0, glossary: 0, subscribers: 0, publication: false, keptArticles: [] };
    }
    const problem = demoRemovalProblem(content, surface);
    if (problem) throw new DemoInUseError(problem);
    await deleteSubscribers(trx, content.trialSubscriberIds);
    if (content.issue) await trx.deleteFrom('issues').where('id', '=', content.issue.id).execute();
    if (content.articleIds.length) await trx.deleteFrom('articles').where('id', 'in', content.articleIds).execute();
    if (content.topics.length) {
      await trx
        .deleteFrom('topics')
        .where(
          'id',
          'in',
          content.topics.map((t) => t.id),
        )
        .execute();
    }
    if (content.glossary.length)
      await trx.deleteFrom('glossary').where('abbreviation', 'in', content.glossary).execute();
    if (content.publication) await trx.deleteFrom('publication').where('id', '=', 1).execute();
    await touchAllDrafts(trx);
    return {
      issue: content.issue?.slug ?? null,
      articles: content.articleIds.length,
      topics: content.topics.length,
      glossary: content.glossary.length,
      subscribers: content.trialSubscriberIds.length,
      publication: content.publication,
      keptArticles: content.keptArticles,
    };
  });
}
