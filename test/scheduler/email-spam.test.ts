import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { sendIssue } from '../../scheduler/send-control.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { importLongIssue } from '../fixtures/long-issue.js';
import { insertSubscribers } from './fixtures.js';

// Issue 12 §4: SpamAssassin (Debian's package), local rules only, scores every edition at most 0.1.
// The messages are the send pipeline's own: the outbox files of a real send.

const SPAMASSASSIN = '/usr/bin/spamassassin';
const available = existsSync(SPAMASSASSIN);
if (!available) console.warn(`SKIPPING the SpamAssassin test: ${SPAMASSASSIN} is not installed (CI installs it)`);

const run = promisify(execFile);
let env: TempEnv;
let services: Services;
beforeAll(async () => {
  env = makeTempEnv({ MAIL_FROM: 'Riverside Open Standards Digest <newsletter@news.example.org>' });
  services = await env.open();
});
afterAll(async () => {
  await services.close();
  env.cleanup();
});

describe.runIf(available)('SpamAssassin', () => {
  it('scores the whole issue and two editions at most 0.1, with no rule about hidden or low-contrast text', async () => {
    const slug = await importLongIssue(services);
    const doc = await services.renderer.document(slug);
    const [first, second, third] = doc.sections.map((s) => s.slug);
    await insertSubscribers(services.db, [
      { email: 'anna@example.org', name: 'Anna Müller' },
      { email: 'bo@example.org', name: 'Bo', topics: [first as string, second as string] },
      { email: 'cy@example.org', topics: [third as string] },
    ]);
    const report = await sendIssue(services, slug);
    expect(report.counts.sent).toBe(3);

    // One SpamAssassin run over an mbox of the three messages: its rules load once.
    const files = readdirSync(env.config.outboxDir).filter((f) => f.endsWith('.eml'));
    expect(files).toHaveLength(3);
    const mbox = files
      .map((f) => {
        const message = readFileSync(path.join(env.config.outboxDir, f), 'utf8').replace(/\r\n/g, '\n');
        return `From newsletter@news.example.org Thu Nov 26 09:00:00 2026\n${message.replace(/^From /gm, '>From ')}\n`;
      })
      .join('\n');
    const mboxFile = path.join(env.dir, 'messages.mbox');
    const prefs = path.join(env.dir, 'user_prefs');
    writeFileSync(mboxFile, mbox);
    writeFileSync(prefs, '');
    const { stdout } = await run(SPAMASSASSIN, ['-L', '-t', '--mbox', '-p', prefs, mboxFile], {
      maxBuffer: 64 * 1024 * 1024,
    });
    const verdicts = [
      ...stdout.matchAll(/^X-Spam-Status: (\w+), score=(-?[\d.]+) required=[\d.]+ tests=([\s\S]*?) autolearn/gm),
    ];
    expect(verdicts).toHaveLength(3);
    for (const [, , score, tests] of verdicts) {
      const rules = (tests as string).replace(/\s+/g, '');
      expect(Number(score), rules).toBeLessThanOrEqual(0.1);
      expect(rules).not.toMatch(/HTML_FONT_LOW_CONTRAST|HIDDEN|TINY_FONT|HTML_IMAGE/);
    }
  }, 240_000);
});
