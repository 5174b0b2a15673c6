import { CliError, type CliContext, type RegisterCommands } from '../command/context.js';
import { listTopics } from '../content/content-repository.js';
import { DemoInUseError, findDemoContent, removeDemo, removedNothing } from '../../editors/demo-removal.js';
import { deleteUnusedTopic } from '../../editors/settings-repository.js';
import { mergeTopics, TopicChangeError } from '../../editors/topic-merge.js';

// `newsletter demo remove`, `newsletter topics merge <from> <into>`, `newsletter topics delete <topic>`.

/** After a real import: offers the demo's removal while any of it is left. */
export async function demoHint(ctx: CliContext, importedSlug: string): Promise<void> {
  const services = await ctx.services();
  const demo = await findDemoContent(services.db);
  if (!demo || demo.issue?.slug === importedSlug) return;
  ctx.stderr.write(
    `The demo${demo.issue ? ` issue "${demo.issue.slug}"` : ''} and its topics are still here; remove them with: newsletter demo remove\n`,
  );
}

async function topicBySlug(ctx: CliContext, slug: string) {
  const topics = await listTopics((await ctx.services()).db);
  const topic = topics.find((t) => t.slug === slug);
  if (!topic) throw new CliError(`Unknown topic "${slug}". Topics: ${topics.map((t) => t.slug).join(', ')}`);
  return topic;
}

export const registerDemoCommands: RegisterCommands = (program, ctx) => {
  program
    .command('demo')
    .description('the demo issue loaded on an empty database')
    .command('remove')
    .description('remove everything the demo added: issue, articles, topics, glossary rows, trial subscribers')
    .action(async () => {
      const services = await ctx.services();
      try {
        const report = await removeDemo(services.db, 'cli');
        services.renderer.invalidate();
        if (removedNothing(report)) {
          ctx.stdout.write('Nothing of the demo is left; nothing was removed\n');
          return;
        }
        services.logger.info({ by: 'cli', ...report }, 'demo removed');
        ctx.stdout.write(
          `Removed the demo: ${report.issue ? `issue ${report.issue}, ` : ''}${report.articles} articles, ${report.topics} topics, ` +
            `${report.glossary} glossary rows, ${report.subscribers} trial subscribers${report.publication ? ', its publication details' : ''}\n`,
        );
        if (report.keptArticles.length) {
          ctx.stdout.write(`  Kept demo articles your issues hold: ${report.keptArticles.join(', ')}\n`);
        }
      } catch (error) {
        if (error instanceof DemoInUseError) throw new CliError(`Nothing was removed. ${error.message}`);
        throw error;
      }
    });

  const topics = program.command('topics').description('merge or delete topics');
  topics
    .command('merge')
    .argument('<from>', 'slug of the topic that goes')
    .argument('<into>', 'slug of the topic that stays')
    .description(
      'merge a topic into another: subscribers keep their choice (moved, logged), articles and drafts follow',
    )
    .action(async (fromSlug: string, intoSlug: string) => {
      const services = await ctx.services();
      const [from, into] = [await topicBySlug(ctx, fromSlug), await topicBySlug(ctx, intoSlug)];
      try {
        const report = await mergeTopics(services.db, from, into, { source: 'cli' });
        services.renderer.invalidate();
        services.logger.info({ from: from.slug, into: into.slug, by: 'cli', ...report }, 'topics merged');
        ctx.stdout.write(
          `Merged ${from.slug} into ${into.slug}: ${report.subscribers} subscriber choices and ${report.articles} article topics moved\n`,
        );
      } catch (error) {
        if (error instanceof TopicChangeError) throw new CliError(error.message);
        throw error;
      }
    });
  topics
    .command('delete')
    .argument('<topic>', 'slug of a topic no article, issue or subscriber uses')
    .description('delete an unused topic')
    .action(async (slug: string) => {
      const services = await ctx.services();
      const topic = await topicBySlug(ctx, slug);
      if ((await deleteUnusedTopic(services.db, topic.id)) !== 'done') {
        throw new CliError(
          `${slug} is used by articles, issues or subscribers; merge it into another topic instead (newsletter topics merge ${slug} <topic>)`,
        );
      }
      services.logger.info({ topic: slug, by: 'cli' }, 'topic deleted');
      ctx.stdout.write(`Deleted the topic ${slug}\n`);
    });
};
