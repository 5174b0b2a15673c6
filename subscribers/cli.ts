import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { CliError, parseTopicList, type RegisterCommands } from '../src/command/context.js';
import { AddSubscriberError, addSubscriber } from './add-subscriber.js';
import { exportSubscribersCsv } from './csv-export.js';
import { CsvImportError, importSubscribersCsv, keptRowHints, keptRowText } from './csv-import.js';

/** `newsletter subscribers add|import|export` (README, "Command line"). */
export const registerSubscriberCommands: RegisterCommands = (program, ctx) => {
  const subscribers = program.command('subscribers').description('add, import and export subscribers');

  subscribers
    .command('add')
    .argument('<email>', 'address of the subscriber')
    .option('--name <name>', 'their name')
    .option('--topics <slugs>', 'comma-separated topic slugs (default: every topic)')
    .description('add an active subscriber (consent source: cli)')
    .action(async (email: string, options: { name?: string; topics?: string }) => {
      const services = await ctx.services();
      try {
        const result = await addSubscriber(
          services.db,
          services.config.secretKey,
          {
            email,
            name: options.name,
            topics: options.topics === undefined ? undefined : (parseTopicList(options.topics) ?? []),
          },
          { source: 'cli' },
        );
        const verb = { added: 'Added', updated: 'Updated', unchanged: 'Already subscribed, unchanged:' }[
          result.outcome
        ];
        ctx.stdout.write(`${verb} ${result.email}\n`);
      } catch (error) {
        if (error instanceof AddSubscriberError) throw new CliError(error.message);
        throw error;
      }
    });

  subscribers
    .command('import')
    .argument('<file>', 'CSV with header email,name,topics[,consent] (topics: slugs separated by ;)')
    .option('--encoding <name>', "the file's encoding when it is not UTF-8 or UTF-16, e.g. windows-1252")
    .option('--overwrite', 'apply the file also where subscribers chose their name and topics themselves')
    .description(
      'import subscribers as active (consent source: import); a pending sign-up is confirmed only by a consent cell; exit 2 when some rows were rejected',
    )
    .action(async (file: string, options: { encoding?: string; overwrite?: boolean }) => {
      if (!existsSync(file)) throw new CliError(`No file at ${file}`);
      const bytes = readFileSync(file);
      const services = await ctx.services();
      let report;
      try {
        report = await importSubscribersCsv(services.db, services.config.secretKey, bytes, {
          encoding: options.encoding,
          overwrite: options.overwrite,
        });
      } catch (error) {
        if (error instanceof CsvImportError) throw new CliError(`${file}: ${error.message}`);
        throw error;
      }
      const { added, updated, unchanged, rejected, kept } = report;
      ctx.stdout.write(
        `${file}: ${added} added, ${updated} updated, ${unchanged} unchanged, ${rejected.length} rejected\n`,
      );
      if (kept.length > 0) {
        ctx.stdout.write(`Kept as the subscribers chose themselves:\n`);
        for (const row of kept) ctx.stdout.write(`  ${keptRowText(row)}\n`);
        for (const hint of keptRowHints(kept)) ctx.stdout.write(`${hint}\n`);
      }
      if (rejected.length > 0) {
        ctx.stderr.write(`Rejected rows of ${file} (the other rows were imported):\n`);
        for (const r of rejected) ctx.stderr.write(`  line ${r.line}: ${r.reason}\n`);
        ctx.setExitCode(2);
      }
    });

  subscribers
    .command('export')
    .option('--out <file>', 'write to this file instead of stdout')
    .description('CSV of every subscriber: email,name,topics,status,subscribed_at (safe to open in a spreadsheet)')
    .action(async (options: { out?: string }) => {
      const services = await ctx.services();
      const csv = await exportSubscribersCsv(services.db);
      if (options.out) {
        writeFileSync(options.out, csv, { mode: 0o600 });
        ctx.stderr.write(`Wrote ${options.out}\n`);
      } else {
        ctx.stdout.write(csv);
      }
    });
};
