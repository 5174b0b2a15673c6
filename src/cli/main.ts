import { Command, CommanderError } from 'commander';
import { writeFileSync } from 'node:fs';
import { ConfigError, loadConfig, loadDotEnv, type Config } from '../config/config.js';
import { openServices, type Services } from '../app/services.js';
import { importFolder, ImportError, IssueRecordError } from '../content/import.js';
import { UnknownIssueError, listTopics } from '../content/content-repository.js';
import { assertKnownTopics, UnknownTopicError } from '../content/editions.js';
import { registerSubscriberCommands } from '../../subscribers/cli.js';
import { registerSchedulerCommands } from '../../scheduler/cli.js';
import { registerEditorCommands } from '../../editors/cli.js';
import { registerBounceCommands } from '../../scheduler/bounces/cli.js';
import { CliError, parseTopicList, type CliContext } from '../command/context.js';
import { registerIssueCommands } from './issue-commands.js';
import { describeFit } from '../render/edition-fit.js';
import { demoHint, registerDemoCommands } from './demo-commands.js';
import { registerDbCommands } from './db-commands.js';
import { registerApiKeyCommands } from '../../api/cli.js';
import { registerWebhookCommands } from '../../api/webhooks/webhook-cli.js';

const FORMATS = ['email', 'text', 'web', 'mjml'] as const;
type Format = (typeof FORMATS)[number];

export interface MainOptions {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  stdin?: NodeJS.ReadableStream;
  env?: NodeJS.ProcessEnv;
}

function buildProgram(ctx: CliContext): Command {
  const program = new Command('newsletter')
    .description('Self-hosted newsletter: per-topic editions, reliable sending, one-click unsubscribe')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .exitOverride()
    .showHelpAfterError('(run `newsletter --help` for the list of commands)');

  program
    .command('migrate')
    .description('create or upgrade the database')
    .action(async () => {
      // Opening the services migrates; they say what that applied.
      const applied = (await ctx.services()).appliedMigrations;
      ctx.stdout.write(applied.length > 0 ? `Applied ${applied.join(', ')}\n` : 'Database is up to date\n');
    });

  program
    .command('import')
    .argument('<dir>', 'folder with issue.md, articles/, publication.md, abbreviations.tsv')
    .option(
      '--correct <note>',
      'publish the import as a correction of a sent issue; the note is shown on its web version',
    )
    .description('import an issue folder; prints the issue slug')
    .action(async (dir: string, options: { correct?: string }) => {
      const note = options.correct?.trim();
      if (options.correct !== undefined && !note) {
        throw new CliError(
          '--correct needs a note for readers, e.g. --correct "The figure in article 3 is 12%, not 21%"',
        );
      }
      const services = await ctx.services();
      try {
        const result = await importFolder(services.db, dir, note ? { correction: { note, by: 'cli' } } : {});
        services.renderer.invalidate();
        ctx.stdout.write(`${result.slug}\n`);
        ctx.stderr.write(`Imported ${result.articles} articles in ${result.topics} topics\n`);
        if (result.corrected) {
          ctx.stderr.write(
            `Published a correction of ${result.slug}: its web version shows the note; nobody was mailed\n`,
          );
        }
        await demoHint(ctx, result.slug);
        for (const kept of result.keptBySentIssues) {
          ctx.stderr.write(
            `  ${kept.article} changed; sent issue${kept.issues.length > 1 ? 's' : ''} ${kept.issues.join(', ')} keep${kept.issues.length > 1 ? '' : 's'} the text it was sent with\n`,
          );
        }
      } catch (error) {
        if (error instanceof ImportError) throw new CliError(`Import failed, nothing was written: ${error.message}`);
        if (error instanceof IssueRecordError) throw new CliError(error.message);
        throw error;
      }
    });

  program
    .command('render')
    .argument('<issue>', 'issue slug')
    .option('--topics <slugs>', 'comma-separated topic slugs: render that edition')
    .option('--format <format>', `one of ${FORMATS.join(', ')}`, 'email')
    .option('--out <file>', 'write to this file instead of stdout')
    .description('render an issue or one of its editions')
    .action(async (slug: string, options: { topics?: string; format: string; out?: string }) => {
      if (!FORMATS.includes(options.format as Format)) {
        throw new CliError(`--format must be one of ${FORMATS.join(', ')} (got "${options.format}")`);
      }
      const services = await ctx.services();
      const topics = parseTopicList(options.topics);
      if (topics) assertKnownTopics(topics, await listTopics(services.db));
      const output = await renderFormat(services, slug, topics, options.format as Format, ctx.stderr);
      if (options.out) {
        writeFileSync(options.out, output);
        ctx.stderr.write(`Wrote ${options.out}\n`);
      } else {
        ctx.stdout.write(output);
      }
    });

  program
    .command('serve')
    .description('run the web server and the scheduler')
    .action(async () => {
      // Loaded here: the web server, the editors' app and their libraries cost a process about
      // 20 MB that `send` and the other commands never use.
      const { serve } = await import('../web/serve.js');
      const services = await ctx.services();
      await serve(services, { stdout: ctx.stdout });
      // serve() resolves when the server has stopped (SIGINT/SIGTERM).
    });

  registerSubscriberCommands(program, ctx);
  registerSchedulerCommands(program, ctx);
  registerEditorCommands(program, ctx);
  registerIssueCommands(program, ctx);
  registerDemoCommands(program, ctx);
  registerBounceCommands(program, ctx);
  registerDbCommands(program, ctx);
  registerApiKeyCommands(program, ctx);
  registerWebhookCommands(program, ctx);
  return program;
}

async function renderFormat(
  services: Services,
  slug: string,
  topics: string[] | null,
  format: Format,
  stderr: NodeJS.WritableStream,
): Promise<string> {
  const r = services.renderer;
  switch (format) {
    case 'web':
      return r.renderWeb(slug, topics);
    case 'mjml':
    case 'email':
    case 'text': {
      const edition = await r.edition(slug, topics);
      if (edition.empty) throw new CliError(`The edition for ${topics?.join(', ') ?? 'all topics'} holds no article`);
      stderr.write(`Edition ${topics?.join(',') ?? '(whole issue)'}: ${describeFit(edition.fit)}\n`);
      if (format === 'mjml') return r.renderMjml(slug, topics);
      const filled = edition.fill(r.previewFields(slug, topics));
      return format === 'email' ? filled.html : filled.text;
    }
  }
}

/** Runs the command line; returns the exit status. */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  if (!options.env) loadDotEnv();
  let exitCode = 0;
  let config: Config | undefined;
  let services: Services | undefined;
  const ctx: CliContext = {
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    stdin: options.stdin ?? process.stdin,
    env,
    config: () => (config ??= loadConfig(env)),
    services: async () => (services ??= await openServices(ctx.config())),
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      exitCode = error.exitCode;
    } else if (
      error instanceof CliError ||
      error instanceof ConfigError ||
      error instanceof UnknownIssueError ||
      error instanceof UnknownTopicError
    ) {
      ctx.stderr.write(`Error: ${error.message}\n`);
      exitCode = error instanceof CliError ? error.exitCode : 1;
    } else {
      ctx.stderr.write(`Error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      exitCode = 1;
    }
  } finally {
    await services?.close();
  }
  return exitCode;
}
