import type { RegisterCommands, CliContext } from '../src/command/context.js';
import { CliError } from '../src/command/context.js';
import type { EditorRole } from '../src/db/schema.js';
import { z } from 'zod';
import {
  EDITOR_ROLES,
  EditorExistsError,
  deleteSessionsOfEditor,
  findEditorByEmail,
  insertEditor,
  listEditors,
  updateEditorPassword,
} from './editor-repository.js';
import { hashPassword, passwordProblem } from './auth/passwords.js';

const emailSchema = z.email({ error: 'is not an email address' });

/**
 * Reads one password from stdin. Piped input (`echo pw | newsletter editors add …`) is read to its
 * first line; on a terminal the prompt goes to stderr and the typed characters are not echoed.
 */
export async function readPassword(ctx: CliContext, prompt: string): Promise<string> {
  const stdin = ctx.stdin as NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (on: boolean) => void };
  if (stdin.isTTY && stdin.setRawMode) {
    const setRawMode = stdin.setRawMode.bind(stdin);
    ctx.stderr.write(prompt);
    return new Promise((resolve, reject) => {
      let typed = '';
      setRawMode(true);
      stdin.resume();
      const onData = (chunk: Buffer | string) => {
        for (const ch of chunk.toString()) {
          if (ch === '\u0003') {
            finish();
            return reject(new CliError('Cancelled', 130));
          }
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            finish();
            ctx.stderr.write('\n');
            return resolve(typed);
          }
          typed = ch === '\u007f' ? typed.slice(0, -1) : typed + ch;
        }
      };
      const finish = () => {
        stdin.removeListener('data', onData);
        setRawMode(false);
        stdin.pause();
      };
      stdin.on('data', onData);
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.split(/\r?\n/)[0] ?? '';
}

async function readCheckedPassword(ctx: CliContext): Promise<string> {
  const password = await readPassword(ctx, 'Password (at least 10 characters): ');
  if (password === '') {
    throw new CliError(
      'No password on stdin: pipe one in, e.g. `printf "%s\\n" "$PASSWORD" | newsletter editors add you@example.org`',
    );
  }
  const problem = passwordProblem(password);
  if (problem) throw new CliError(`The password ${problem}.`);
  return password;
}

function checkedEmail(email: string): string {
  const parsed = emailSchema.safeParse(email.trim());
  if (!parsed.success) throw new CliError(`"${email}" is not an email address`);
  return parsed.data;
}

export const registerEditorCommands: RegisterCommands = (program, ctx) => {
  const editors = program.command('editors').description("manage the editors' app accounts");

  editors
    .command('add')
    .argument('<email>', "the editor's email address (their sign-in name)")
    .option('--role <role>', 'admin (also editors and settings) or editor (content, issues, sending)', 'editor')
    .option('--one-time', 'the editor must replace this password at their first sign-in')
    .description('create an editor; the password is read from stdin')
    .action(async (email: string, options: { role: string; oneTime?: boolean }) => {
      if (!EDITOR_ROLES.includes(options.role as EditorRole)) {
        throw new CliError(`--role must be admin or editor (got "${options.role}")`);
      }
      const address = checkedEmail(email);
      const services = await ctx.services();
      if (await findEditorByEmail(services.db, address)) {
        throw new CliError(
          `${address.toLowerCase()} is already an editor (to set a new password: newsletter editors passwd ${address.toLowerCase()})`,
        );
      }
      const password = await readCheckedPassword(ctx);
      try {
        const editor = await insertEditor(
          services.db,
          address,
          options.role as EditorRole,
          await hashPassword(password),
          options.oneTime ? 'one-time' : 'chosen',
        );
        ctx.stdout.write(`Created ${editor.role} ${editor.email}\n`);
      } catch (error) {
        if (error instanceof EditorExistsError) throw new CliError(error.message);
        throw error;
      }
    });

  editors
    .command('passwd')
    .argument('<email>', 'an existing editor')
    .option('--one-time', 'the editor must replace this password at their next sign-in')
    .description("set an editor's password (read from stdin) and sign them out everywhere")
    .action(async (email: string, options: { oneTime?: boolean }) => {
      const services = await ctx.services();
      const editor = await findEditorByEmail(services.db, email);
      if (!editor) throw new CliError(`No editor ${email.trim().toLowerCase()} (see \`newsletter editors list\`)`);
      const password = await readCheckedPassword(ctx);
      await updateEditorPassword(
        services.db,
        editor.id,
        await hashPassword(password),
        options.oneTime ? 'one-time' : 'chosen',
      );
      await deleteSessionsOfEditor(services.db, editor.id);
      ctx.stdout.write(`Changed the password of ${editor.email}\n`);
    });

  editors
    .command('list')
    .description('list editors and their roles')
    .action(async () => {
      const services = await ctx.services();
      for (const e of await listEditors(services.db)) ctx.stdout.write(`${e.email}\t${e.role}\n`);
    });
};
