import { CliError, type RegisterCommands } from '../src/command/context.js';
import { nowIso } from '../src/db/database.js';
import { listApiKeys, revokeApiKey } from './api-key-repository.js';
import { ApiKeyInputError, createApiKey } from './api-keys.js';
import { API_SCOPES, parseScopeList, ScopeListError } from './scopes.js';

// newsletter api-keys create --name N --scopes a,b | list | revoke <id>

export const registerApiKeyCommands: RegisterCommands = (program, ctx) => {
  const keys = program.command('api-keys').description('keys of the JSON API (/api/v1)');

  keys
    .command('create')
    .requiredOption('--name <name>', 'who uses the key, e.g. "website sign-up"')
    .requiredOption('--scopes <list>', `comma-separated: ${API_SCOPES.join(', ')}`)
    .description('make a key; it is printed once and stored only as a hash')
    .action(async (options: { name: string; scopes: string }) => {
      let scopes;
      try {
        scopes = parseScopeList(options.scopes);
      } catch (error) {
        if (error instanceof ScopeListError) throw new CliError(`--scopes: ${error.message}`);
        throw error;
      }
      const services = await ctx.services();
      try {
        const { key, text } = await createApiKey(services.db, { name: options.name, scopes, createdBy: 'cli' });
        ctx.stdout.write(`${text}\n`);
        ctx.stderr.write(
          `Made API key ${key.id} "${key.name}" with ${key.scopes.join(', ')}. ` +
            'Copy it now: it is not shown again (only a hash is kept).\n',
        );
      } catch (error) {
        if (error instanceof ApiKeyInputError) throw new CliError(`--name: ${error.message}`);
        throw error;
      }
    });

  keys
    .command('list')
    .description('every key: id, name, scopes, when made and last used, revoked or not')
    .action(async () => {
      const services = await ctx.services();
      const list = await listApiKeys(services.db);
      if (list.length === 0) {
        ctx.stdout.write('No API keys. Make one with: newsletter api-keys create --name <who> --scopes <list>\n');
        return;
      }
      ctx.stdout.write('id\tname\tprefix\tscopes\tcreated\tlast used\trevoked\n');
      for (const key of list) {
        ctx.stdout.write(
          [
            key.id,
            key.name,
            `${key.prefix}…`,
            key.scopes.join(','),
            key.createdAt,
            key.lastUsedAt ?? 'never',
            key.revokedAt ?? '-',
          ].join('\t') + '\n',
        );
      }
    });

  keys
    .command('revoke')
    .argument('<id>', 'the key id shown by `api-keys list`')
    .description('revoke a key at once (requests with it get 401)')
    .action(async (id: string) => {
      if (!/^\d{1,12}$/.test(id))
        throw new CliError(`"${id}" is not a key id; \`newsletter api-keys list\` shows them`);
      const services = await ctx.services();
      const result = await revokeApiKey(services.db, Number(id), nowIso());
      if (result === 'missing') throw new CliError(`No API key ${id}; \`newsletter api-keys list\` shows them`);
      ctx.stdout.write(result === 'revoked' ? `Revoked API key ${id}\n` : `API key ${id} was already revoked\n`);
    });
};
