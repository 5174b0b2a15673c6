import { afterEach, describe, expect, it } from 'vitest';
import { listEndpoints } from '../../../api/webhooks/webhook-repository.js';
import { openWebhookSecret } from '../../../api/webhooks/webhook-secret.js';
import { runCli } from '../../helpers/cli.js';
import { makeTempEnv, type TempEnv } from '../../helpers/temp-env.js';

// newsletter webhooks add | list | remove, against a real SQLite file.

let temp: TempEnv | undefined;
afterEach(() => temp?.cleanup());

describe('newsletter webhooks', () => {
  it('adds an endpoint (its secret printed once), lists it with its deliveries and removes it', async () => {
    temp = makeTempEnv();
    const added = await runCli(
      ['webhooks', 'add', '--url', 'https://crm.example.org/hooks', '--events', 'subscriber.created, issue.sent'],
      temp.env,
    );
    expect(added.code, added.stderr).toBe(0);
    const secret = added.stdout.trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(added.stderr).toMatch(/not shown again/);

    const services = await temp.open();
    try {
      const [endpoint] = await listEndpoints(services.db);
      expect(endpoint).toMatchObject({
        url: 'https://crm.example.org/hooks',
        events: ['subscriber.created', 'issue.sent'],
        createdBy: 'cli',
      });
      // Stored sealed: the printed secret is what SECRET_KEY opens, never the stored text.
      expect(endpoint?.storedSecret).not.toContain(secret);
      expect(openWebhookSecret(services.config.secretKey, endpoint?.storedSecret ?? '')).toBe(secret);
      const listed = await runCli(['webhooks', 'list'], temp.env);
      expect(listed.stdout).toContain(
        `${endpoint?.id}\thttps://crm.example.org/hooks\tsubscriber.created,issue.sent\t0\t0\t0`,
      );
      expect(listed.stdout).not.toContain(secret);

      expect((await runCli(['webhooks', 'remove', String(endpoint?.id)], temp.env)).code).toBe(0);
      expect(await listEndpoints(services.db)).toEqual([]);
    } finally {
      await services.close();
    }
  });

  it('says what to fix', async () => {
    temp = makeTempEnv();
    const unknown = await runCli(
      ['webhooks', 'add', '--url', 'https://x.example.org', '--events', 'subscriber.joined'],
      temp.env,
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('--events: Unknown event "subscriber.joined"; events are subscriber.created');
    const badUrl = await runCli(
      ['webhooks', 'add', '--url', 'ftp://x.example.org', '--events', 'issue.sent'],
      temp.env,
    );
    expect(badUrl.stderr).toContain('--url: Give the full address');
    const withPassword = await runCli(
      ['webhooks', 'add', '--url', 'https://u:p@x.example.org/h', '--events', 'issue.sent'],
      temp.env,
    );
    expect(withPassword.stderr).toContain('Leave user names and passwords out');
    const missing = await runCli(['webhooks', 'remove', '42'], temp.env);
    expect(missing.stderr).toContain('No webhook 42');
  });
});
