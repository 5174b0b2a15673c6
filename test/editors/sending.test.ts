import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import type { Services } from '../../src/app/services.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { signedInEditor, type Client, type SignedIn } from './admin-helpers.js';

async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('sending from the editors’ app', () => {
  let sink: SmtpSink;
  let editor: SignedIn;
  let services: Services;
  let client: Client;
  let token: string;

  beforeAll(async () => {
    sink = await startSmtpSink();
    editor = await signedInEditor({
      env: { SMTP_URL: sink.url },
      seed: async (services, env) => {
        // A topic no article of the issue carries: its subscriber's edition is empty and skipped.
        await services.db
          .insertInto('topics')
          .values({ slug: 'space', name: 'Space', description: '', position: 99 })
          .execute();
        for (const [email, topics] of [
          ['a@example.org', undefined],
          ['b@example.org', ['blockchain']],
          ['c@example.org', ['space']],
        ] as const) {
          await addSubscriber(
            services.db,
            env.config.secretKey,
            { email, topics: topics ? [...topics] : undefined },
            { source: 'cli' },
          );
        }
      },
    });
    ({ services, client } = editor);
    token = await client.csrfToken('/admin/issues/oct-nov-2020/send');
  });
  afterAll(async () => {
    await editor?.close();
    await sink?.close();
  });

  it('shows the service’s zone and refuses a time in the past beside the schedule fields', async () => {
    const page = await (await client.get('/admin/issues/oct-nov-2020/send')).text();
    expect(page).toContain('The service’s time zone is <strong>Europe/Brussels</strong>');
    const res = await client.post('/admin/issues/oct-nov-2020/send/schedule', {
      _csrf: token,
      date: '2020-01-01',
      time: '09:00',
      zone: 'Europe/Brussels',
    });
    expect(res.status).toBe(409);
    expect(await res.text()).toMatch(/id="schedule-error">[^<]*in the past/);
  });

  it('schedules with date, time and zone, then unschedules', async () => {
    const res = await client.post('/admin/issues/oct-nov-2020/send/schedule', {
      _csrf: token,
      date: '2099-03-02',
      time: '09:00',
      zone: 'Asia/Shanghai',
    });
    expect(res.status).toBe(303);
    const row = await services.db
      .selectFrom('issues')
      .select(['status', 'send_at'])
      .where('slug', '=', 'oct-nov-2020')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'scheduled', send_at: '2099-03-02T01:00:00.000Z' });
    const page = await (await client.get('/admin/issues/oct-nov-2020/send')).text();
    expect(page).toContain('2099-03-02 02:00 Europe/Brussels');
    expect((await client.post('/admin/issues/oct-nov-2020/send/unschedule', { _csrf: token })).status).toBe(303);
    const after = await services.db
      .selectFrom('issues')
      .select(['status', 'send_at'])
      .where('slug', '=', 'oct-nov-2020')
      .executeTakeFirstOrThrow();
    expect(after).toEqual({ status: 'draft', send_at: null });
  });

  it('sends a test copy of an edition to a loopback SMTP server', async () => {
    const form = new URLSearchParams({ _csrf: token, testEmail: 'ed@example.org' });
    form.append('topic', 'blockchain');
    const res = await client.post('/admin/issues/oct-nov-2020/send/test', form);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('id="test-result"');
    const [mail] = await sink.waitFor(1);
    expect(mail?.envelopeTo).toEqual(['ed@example.org']);
    expect(mail?.parsed.subject).toContain('[TEST]');
    expect(mail?.parsed.text).toContain('Blockchain');
    expect(mail?.parsed.text).not.toContain('Quantum Technology Standardization');
    const bad = await client.post('/admin/issues/oct-nov-2020/send/test', {
      _csrf: token,
      testEmail: 'not-an-address',
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('id="testEmail-error"');
  });

  it('sends to everyone and the status JSON reaches "sent" with counts; history stays', async () => {
    const before = sink.received.length;
    expect((await client.post('/admin/issues/oct-nov-2020/send/now', { _csrf: token })).status).toBe(303);
    const status = await until(
      async () =>
        (await (
          await client.get('/admin/issues/oct-nov-2020/send/status.json', { accept: 'application/json' })
        ).json()) as { status: string; counts: Record<string, number>; percent: number },
      (s) => s.status === 'sent',
    );
    expect(status.status).toBe('sent');
    expect(status.counts).toMatchObject({ planned: 3, sent: 2, skipped: 1, failed: 0, pending: 0 });
    expect(status.percent).toBe(100);
    expect(sink.received.length - before).toBe(2);
    const page = await (await client.get('/admin/issues/oct-nov-2020/send')).text();
    expect(page).toMatch(/Finished [^<]+\./);
    expect(page).toContain('This issue is sent; it can no longer be scheduled.');
  });
});
