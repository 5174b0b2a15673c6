import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { ROOT, startChildServer } from '../../helpers/child-server.js';
import { eventually } from '../../helpers/eventually.js';
import { makeTempEnv } from '../../helpers/temp-env.js';
import { deliverOverSmtp, originalText, sendDemoIssue, subscriberState, type SentIssue } from './bounce-harness.js';
import { eximBounce } from './report-fixtures.js';

describe('newsletter bounces listen', () => {
  it('says what to configure when there is nothing to listen on', async () => {
    const env = makeTempEnv();
    try {
      const run = await runCli(['bounces', 'listen'], env.env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('set BOUNCE_DOMAIN and BOUNCE_SMTP_PORT for the SMTP receiver, or BOUNCE_IMAP_URL');
    } finally {
      env.cleanup();
    }
  });

  describe('as its own process', () => {
    let sent: SentIssue;
    beforeAll(async () => {
      sent = await sendDemoIssue(['ann@example.net', 'bob@example.net']);
    });
    afterAll(async () => {
      await sent?.close();
    });

    it('receives a bounce for BOUNCE_DOMAIN, applies it, and stops cleanly on SIGTERM', async () => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'newsletter.js'), 'bounces', 'listen'], {
        cwd: ROOT,
        env: { ...sent.env.env, BOUNCE_SMTP_PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      try {
        const port = await eventually(
          () => `the listener's port in its output:\n${out}`,
          () => {
            const match = /Receiving bounces for bounces\.example\.org on 127\.0\.0\.1:(\d+)/.exec(out);
            if (child.exitCode !== null) throw new Error(`exited: ${out}`);
            return match ? Number(match[1]) : undefined;
          },
          { timeoutMs: 60_000 },
        );
        const mail = sent.mails.get('ann@example.net');
        if (!mail) throw new Error('ann got nothing');
        const dsn = eximBounce({ to: mail.envelopeFrom, recipient: 'ann@example.net', original: originalText(mail) });
        expect(await deliverOverSmtp(port, mail.envelopeFrom, dsn)).toMatch(/^250/);
        expect((await subscriberState(sent.services, 'ann@example.net')).status).toBe('bounced');
        expect((await subscriberState(sent.services, 'bob@example.net')).status).toBe('active');
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
    }, 90_000);

    it('runs inside `newsletter serve` too', async () => {
      const server = await startChildServer({ ...sent.env.env, BOUNCE_SMTP_PORT: '0' });
      try {
        await eventually(
          () => `serve to receive bounces:\n${server.output()}`,
          () => /Receiving bounces for bounces\.example\.org on 127\.0\.0\.1:\d+/.test(server.output()),
        );
      } finally {
        expect(await server.stop('SIGTERM')).toBe(0);
      }
    }, 90_000);
  });
});
