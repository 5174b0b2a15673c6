import { afterEach, describe, expect, it } from 'vitest';
import { listApiKeys } from '../../api/api-key-repository.js';
import { ApiKeyAuthenticator, hashApiKey } from '../../api/api-keys.js';
import { runCli } from '../helpers/cli.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// newsletter api-keys create | list | revoke, against a real SQLite file.

let temp: TempEnv | undefined;
afterEach(() => temp?.cleanup());

describe('newsletter api-keys', () => {
  it('prints a new key once, keeps only its hash, lists it with its last use and revokes it', async () => {
    temp = makeTempEnv();
    const created = await runCli(
      ['api-keys', 'create', '--name', 'website', '--scopes', 'subscribers:write, stats:read'],
      temp.env,
    );
    expect(created.code).toBe(0);
    const text = created.stdout.trim();
    expect(text).toMatch(/^nlk_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/not shown again/);

    const services = await temp.open();
    try {
      const [key] = await listApiKeys(services.db);
      expect(key).toMatchObject({ name: 'website', scopes: ['subscribers:write', 'stats:read'], lastUsedAt: null });
      const stored = JSON.stringify(
        await services.db
          .selectFrom('api_keys' as never)
          .selectAll()
          .execute(),
      );
      expect(stored).not.toContain(text);
      expect(stored).toContain(hashApiKey(text));

      const auth = await new ApiKeyAuthenticator({ db: services.db }).authenticate(`Bearer ${text}`);
      expect(auth.ok).toBe(true);
      const listed = await runCli(['api-keys', 'list'], temp.env);
      expect(listed.stdout).toMatch(
        new RegExp(`^${key?.id}\\twebsite\\tnlk_\\S{8}…\\tsubscribers:write,stats:read\\t\\S+\\t20\\d\\d-`, 'm'),
      );

      const revoked = await runCli(['api-keys', 'revoke', String(key?.id)], temp.env);
      expect(revoked.stdout).toBe(`Revoked API key ${key?.id}\n`);
      expect(await new ApiKeyAuthenticator({ db: services.db }).authenticate(`Bearer ${text}`)).toEqual({
        ok: false,
        reason: 'revoked',
      });
      expect((await runCli(['api-keys', 'revoke', String(key?.id)], temp.env)).stdout).toMatch(/already revoked/);
    } finally {
      await services.close();
    }
  });

  it('names what is wrong with a bad scope, name or id', async () => {
    temp = makeTempEnv();
    const badScope = await runCli(
      ['api-keys', 'create', '--name', 'x', '--scopes', 'subscribers:read,everything'],
      temp.env,
    );
    expect(badScope.code).toBe(1);
    expect(badScope.stderr).toMatch(/Unknown scope "everything"; scopes are subscribers:read, subscribers:write/);
    const noName = await runCli(['api-keys', 'create', '--name', '  ', '--scopes', 'stats:read'], temp.env);
    expect(noName.stderr).toMatch(/--name: Give the key a name/);
    const missing = await runCli(['api-keys', 'revoke', '99'], temp.env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No API key 99/);
    expect((await runCli(['api-keys', 'list'], temp.env)).stdout).toMatch(/No API keys/);
  });
});
