import type { Command } from 'commander';
import { copyDatabase, CopyError, redactUrl } from '../db/copy.js';
import { CliError, type CliContext } from '../command/context.js';

/** `newsletter db copy`: moves a publication from its SQLite file to PostgreSQL. */
export function registerDbCommands(program: Command, ctx: CliContext): void {
  const db = program.command('db').description('database tools');
  db.command('copy')
    .description('copy every row of a SQLite database into another (PostgreSQL), verified by counts per table')
    .requiredOption('--from <path>', 'the SQLite database file (read, not changed)')
    .requiredOption('--to <url>', 'the target, e.g. postgres://user:password@host:5432/database')
    .option('--replace', 'delete what the target holds first (without it, a target holding rows is refused)')
    .action(async (options: { from: string; to: string; replace?: boolean }) => {
      const started = performance.now();
      try {
        const counts = await copyDatabase({
          from: options.from,
          to: options.to,
          replace: options.replace ?? false,
          progress: (table, rows) => ctx.stderr.write(`  ${table}: ${rows}\n`),
        });
        const width = Math.max(...counts.map((c) => c.table.length));
        for (const c of counts) ctx.stdout.write(`${c.table.padEnd(width)}  ${c.rows}\n`);
        const total = counts.reduce((sum, c) => sum + c.rows, 0);
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        ctx.stderr.write(
          `Copied ${total} rows in ${counts.length} tables to ${redactUrl(options.to)} in ${seconds} s; ` +
            'every table holds as many rows as the source. Set DATABASE_URL to it and start the service.\n',
        );
      } catch (error) {
        if (error instanceof CopyError) throw new CliError(`db copy: ${error.message}`);
        throw error;
      }
    });
}
