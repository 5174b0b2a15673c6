import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScheduler, type RunningScheduler } from '../../scheduler/scheduler-service.js';
import { eventually } from '../helpers/eventually.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import type { Services } from '../../src/app/services.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { signedInEditor, type Client, type SignedIn } from './admin-helpers.js';
import { LONG_ISSUE } from '../fixtures/long-issue.js';

const SLUG = LONG_ISSUE.slug;

/** The hidden fields of the confirmation page's form, as the browser would post them. */
function confirmationFields(html: string): Record<string, string> {
  const form =
    /<section class="card" aria-labelledby="what-heading" id="confirmation">[\s\S]*?<\/form>/.exec(html)?.[0] ?? '';
  const fields: Record<string, string> = {};
  for (const m of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[m[1] as string] = (m[2] as string)
      .replace(/&#x2B;/g, '+')
      .replace(/&#x3A;/g, ':')
      .replace(/&amp;/g, '&');
  }
  return fields;
}

describe('sending from the editors’ app', () => {
  let sink: SmtpSink;
  let editor: SignedIn;
  let services: Services;
  let client: Client;
  let token: string;
  let scheduler: RunningScheduler | undefined;

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
          ['b@example.org', ['shared-ledgers']],
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
    // The sender `newsletter serve` runs beside the web server: "Send now" only starts the send.
    scheduler = await startScheduler(services, { tickMs: 1000 });
    token = await client.csrfToken(`/admin/issues/${SLUG}/send`);
  });
  afterAll(async () => {
    await scheduler?.stop();
    await editor?.close();
    await sink?.close();
  });

  it('shows the service’s zone and refuses a time in the past beside the schedule fields', async () => {
    const page = await (await client.get(`/admin/issues/${SLUG}/send`)).text();
    expect(page).toContain('The service’s time zone is <strong>Europe/Brussels</strong>');
    const res = await client.post(`/admin/issues/${SLUG}/send/schedule`, {
      _csrf: token,
      date: '2020-01-01',
      time: '09:00',
      zone: 'Europe/Brussels',
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toMatch(/id="schedule-error">[^<]*has passed: choose a later time, or send now\./);
    expect(html).not.toContain('newsletter send');
  });

  it('schedules with date, time and zone after a confirmation showing the audience, then unschedules', async () => {
    const asked = await client.post(`/admin/issues/${SLUG}/send/schedule`, {
      _csrf: token,
      date: '2099-03-02',
      time: '09:00',
      zone: 'Asia/Shanghai',
    });
    expect(asked.status).toBe(200);
    const confirmation = await asked.text();
    expect(confirmation).toContain('Schedule this issue?');
    expect(confirmation).toContain('<strong>2099-03-02 02:00 Europe/Brussels (UTC+01:00)</strong>');
    expect(confirmation).toMatch(/<strong data-field="receiving">2<\/strong> of 3 active subscribers/);
    expect(confirmation).toMatch(/<strong data-field="skipped">1<\/strong> skipped/);
    // Nothing is scheduled until the confirmation is posted.
    expect(
      await services.db.selectFrom('issues').select('status').where('slug', '=', SLUG).executeTakeFirstOrThrow(),
    ).toEqual({ status: 'draft' });
    const res = await client.post(`/admin/issues/${SLUG}/send/schedule`, {
      _csrf: token,
      ...confirmationFields(confirmation),
    });
    expect(res.status).toBe(303);
    const row = await services.db
      .selectFrom('issues')
      .select(['status', 'send_at'])
      .where('slug', '=', SLUG)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'scheduled', send_at: '2099-03-02T01:00:00.000Z' });
    const page = await (await client.get(`/admin/issues/${SLUG}/send`)).text();
    expect(page).toContain('2099-03-02 02:00 Europe/Brussels');
    // The form shows the current schedule, in minutes.
    expect(page).toContain('name="date" type="date" required value="2099-03-02"');
    expect(page).toContain('name="time" type="time" required value="02:00"');
    expect(page).toContain('<strong>Unschedule</strong> clears the time');
    expect((await client.post(`/admin/issues/${SLUG}/send/unschedule`, { _csrf: token })).status).toBe(303);
    const after = await services.db
      .selectFrom('issues')
      .select(['status', 'send_at'])
      .where('slug', '=', SLUG)
      .executeTakeFirstOrThrow();
    expect(after).toEqual({ status: 'draft', send_at: null });
  });

  it('sends a test copy of an edition to a loopback SMTP server', async () => {
    const form = new URLSearchParams({ _csrf: token, testEmail: 'ed@example.org' });
    form.append('topic', 'shared-ledgers');
    const res = await client.post(`/admin/issues/${SLUG}/send/test`, form);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('id="test-result"');
    const [mail] = await sink.waitFor(1);
    expect(mail?.envelopeTo).toEqual(['ed@example.org']);
    expect(mail?.parsed.subject).toContain('[TEST]');
    expect(mail?.parsed.text).toContain('Shared Ledgers');
    expect(mail?.parsed.text).not.toContain('The Exchange Office Opens a Reading Room');
    // A fresh install's first admin is admin@localhost: the pre-filled address must work.
    const page = await (await client.get(`/admin/issues/${SLUG}/send`)).text();
    expect(page).toContain('name="testEmail" type="email" required value="ed@example.org"');
    const local = await client.post(`/admin/issues/${SLUG}/send/test`, {
      _csrf: token,
      testEmail: 'admin@localhost',
    });
    expect(local.status).toBe(200);
    const [, localMail] = await sink.waitFor(2);
    expect(localMail?.envelopeTo).toEqual(['admin@localhost']);
    const bad = await client.post(`/admin/issues/${SLUG}/send/test`, {
      _csrf: token,
      testEmail: 'not-an-address',
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('id="testEmail-error"');
  });

  it('refuses a confirmation made on a page that no longer matches the issue (another tab, an edit)', async () => {
    const sendNowPage = await (await client.post(`/admin/issues/${SLUG}/send/now`, { _csrf: token })).text();
    const scheduleTab = await (
      await client.post(`/admin/issues/${SLUG}/send/schedule`, {
        _csrf: token,
        date: '2099-05-01',
        time: '10:00',
        zone: 'Europe/Brussels',
      })
    ).text();
    // The second tab schedules; the first tab's "send now" is then out of date.
    const scheduled = await client.post(`/admin/issues/${SLUG}/send/schedule`, {
      _csrf: token,
      ...confirmationFields(scheduleTab),
    });
    expect(scheduled.status).toBe(303);
    const stale = await client.post(`/admin/issues/${SLUG}/send/now`, {
      _csrf: token,
      ...confirmationFields(sendNowPage),
    });
    expect(stale.status).toBe(409);
    expect(await stale.text()).toContain('Nothing was sent: the issue is scheduled now, not draft');
    expect((await client.post(`/admin/issues/${SLUG}/send/unschedule`, { _csrf: token })).status).toBe(303);
    // An edit between the confirmation page and the click.
    const again = await (await client.post(`/admin/issues/${SLUG}/send/now`, { _csrf: token })).text();
    await services.db
      .updateTable('issues')
      .set({ updated_at: new Date().toISOString() })
      .where('slug', '=', SLUG)
      .execute();
    const edited = await client.post(`/admin/issues/${SLUG}/send/now`, {
      _csrf: token,
      ...confirmationFields(again),
    });
    expect(edited.status).toBe(409);
    expect(await edited.text()).toContain('Nothing was sent: the issue was edited since the page was shown.');
    expect(await services.db.selectFrom('deliveries').select('id').execute()).toEqual([]);
  });

  it('sends to everyone and the status JSON reaches "sent" with counts; history stays', async () => {
    const before = sink.received.length;
    const confirmation = await (await client.post(`/admin/issues/${SLUG}/send/now`, { _csrf: token })).text();
    expect(confirmation).toContain('Send this issue now?');
    expect(confirmation).toMatch(/in <strong data-field="editions">2<\/strong> editions/);
    expect(confirmation).toContain('Send to 2 subscribers now');
    expect(
      (await client.post(`/admin/issues/${SLUG}/send/now`, { _csrf: token, ...confirmationFields(confirmation) }))
        .status,
    ).toBe(303);
    // A second click on the same confirmation does not send again.
    const twice = await client.post(`/admin/issues/${SLUG}/send/now`, {
      _csrf: token,
      ...confirmationFields(confirmation),
    });
    expect(twice.status).toBe(409);
    const status = await eventually(
      'the send to finish',
      async () =>
        (await (await client.get(`/admin/issues/${SLUG}/send/status.json`, { accept: 'application/json' })).json()) as {
          status: string;
          counts: Record<string, number>;
          percent: number;
          senders: { host: string; pid: number; alive: boolean }[];
        },
      { holds: (s) => s.status === 'sent' },
    );
    // The dashboard names the sender that did it: this process's (as `newsletter serve` runs one).
    expect(status.senders).toContainEqual(expect.objectContaining({ pid: process.pid, alive: true }));
    expect(status.counts).toMatchObject({ planned: 3, sent: 2, skipped: 1, failed: 0, pending: 0 });
    expect(status.percent).toBe(100);
    expect(sink.received.length - before).toBe(2);
    const page = await (await client.get(`/admin/issues/${SLUG}/send`)).text();
    expect(page).toMatch(/Finished [^<]+\./);
    expect(page).toContain('This issue is sent; it can no longer be scheduled.');
  });
});
