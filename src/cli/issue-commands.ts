import { CliError, type CliContext, type RegisterCommands } from '../command/context.js';
import {
  deleteDraftIssue,
  getIssueRow,
  listIssueSlugs,
  republishIssue,
  UnknownIssueError,
  withdrawIssue,
  type IssueChange,
} from '../content/content-repository.js';
import { nowIso } from '../db/database.js';

// `newsletter withdraw|republish|delete <issue>`: take a sent issue out of the archive (and put it
// back), delete a draft. Each is logged; the editors' app does the same from the issue's page.

/** Turns a refused or missing change into the error that says why and what to do. */
async function explain(
  ctx: CliContext,
  slug: string,
  result: IssueChange,
  why: (status: string, withdrawn: boolean) => string,
): Promise<void> {
  if (result === 'done') return;
  const services = await ctx.services();
  const row = await getIssueRow(services.db, slug);
  if (!row) throw new UnknownIssueError(slug, await listIssueSlugs(services.db));
  throw new CliError(why(row.status, row.withdrawn_at !== null));
}

export const registerIssueCommands: RegisterCommands = (program, ctx) => {
  program
    .command('withdraw')
    .argument('<issue>', 'issue slug')
    .option('--note <text>', 'shown to readers who open its address (e.g. why it was withdrawn)')
    .description('take a sent issue out of the public archive and feed (its page answers 410 with the note)')
    .action(async (slug: string, options: { note?: string }) => {
      const services = await ctx.services();
      const note = options.note?.trim() || null;
      const result = await withdrawIssue(services.db, slug, note, nowIso());
      await explain(ctx, slug, result, (status, withdrawn) =>
        withdrawn
          ? `${slug} is already withdrawn (\`newsletter republish ${slug}\` puts it back)`
          : `${slug} is ${status}, not in the archive; only a sent issue can be withdrawn` +
            (status === 'draft' ? ` (\`newsletter delete ${slug}\` deletes a draft)` : ''),
      );
      services.logger.info({ issue: slug, by: 'cli', note }, 'issue withdrawn from the archive');
      ctx.stdout.write(`Withdrew ${slug}: /issues/${slug} answers 410 and the archive and feed leave it out\n`);
    });

  program
    .command('republish')
    .argument('<issue>', 'issue slug')
    .description('put a withdrawn issue back in the archive and feed')
    .action(async (slug: string) => {
      const services = await ctx.services();
      const result = await republishIssue(services.db, slug);
      await explain(ctx, slug, result, (status) => `${slug} is ${status} and not withdrawn; nothing to put back`);
      services.logger.info({ issue: slug, by: 'cli' }, 'issue put back in the archive');
      ctx.stdout.write(`Put ${slug} back in the archive\n`);
    });

  program
    .command('delete')
    .argument('<issue>', 'issue slug of a draft')
    .description('delete a draft issue (its articles stay in the library); a sent issue is withdrawn instead')
    .action(async (slug: string) => {
      const services = await ctx.services();
      const result = await deleteDraftIssue(services.db, slug);
      await explain(ctx, slug, result, (status) =>
        status === 'scheduled'
          ? `${slug} is scheduled; \`newsletter unschedule ${slug}\` first, then delete it`
          : `${slug} is ${status}: an issue whose send has started is a record and is not deleted; ` +
            `\`newsletter withdraw ${slug}\` takes it out of the archive`,
      );
      services.logger.info({ issue: slug, by: 'cli' }, 'draft issue deleted');
      ctx.stdout.write(`Deleted the draft ${slug}; its articles stay in the library\n`);
    });
};
