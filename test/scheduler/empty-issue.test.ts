import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { insertIssue } from '../../editors/issue-repository.js';
import { importFolder } from '../../src/content/import.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { scheduleIssue, SendControlError, startSend } from '../../scheduler/send-control.js';
import { requireIssue } from '../../scheduler/delivery-repository.js';
import { insertSubscribers } from './fixtures.js';
import { startApp } from '../editors/admin-helpers.js';
import { runCli } from '../helpers/cli.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// An issue with no article is never sent, scheduled or made public, whoever asks.

let env: TempEnv;
let services: Services;

beforeAll(async () => {
  env = makeTempEnv();
  services = await env.open();
  await importFolder(services.db, DEMO_DIR);
  await insertSubscribers(services.db, [{ email: 'reader@example.org' }]);
  await insertIssue(services.db, 'empty', { title: 'Empty', edition: '', period: 'Never', editorNoteMarkdown: '' });
});

afterAll(async () => {
  await services.close();
  env.cleanup();
});

describe('an empty issue', () => {
  it('cannot be sent or scheduled from the command line', async () => {
    const send = await runCli(['send', 'empty'], env.env);
    expect(send.code).toBe(1);
    expect(send.stderr).toBe(
      'Error: empty was not sent: the issue has no article, so it cannot be sent or scheduled; add articles to it first\n',
    );
    const schedule = await runCli(['schedule', 'empty', '--at', '2099-01-01T09:00Z'], env.env);
    expect(schedule.code).toBe(1);
    expect(schedule.stderr).toContain('the issue has no article');
    const issue = await requireIssue(services.db, 'empty');
    expect(issue).toMatchObject({ status: 'draft', send_at: null, started_at: null });
    expect(await services.db.selectFrom('deliveries').select('id').execute()).toEqual([]);
  });

  it('cannot be started or scheduled through the API the editors’ app uses', async () => {
    await expect(startSend(services, 'empty')).rejects.toThrow(SendControlError);
    await expect(scheduleIssue(services, 'empty', new Date(Date.now() + 86_400_000))).rejects.toThrow(/has no article/);
    expect(await requireIssue(services.db, 'empty')).toMatchObject({ status: 'draft', started_at: null });
    const app = await startApp(services);
    try {
      expect((await fetch(`${app.url}/issues/empty`)).status).toBe(404);
    } finally {
      await app.close();
    }
  });
});
