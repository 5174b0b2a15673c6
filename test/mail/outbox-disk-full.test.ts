import { readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { createMessenger, type OutgoingMessage } from '../../src/mail/messenger.js';
import { mountSmallDisk, smallDiskAvailable, type SmallDisk } from '../helpers/small-disk.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// The outbox messenger on a real filesystem that fills up: DATA_DIR/outbox is a small tmpfs.

let disk: SmallDisk | undefined;
let env: TempEnv | undefined;
afterEach(() => {
  disk?.unmount();
  env?.cleanup();
  disk = env = undefined;
});

const message = (n: number): OutgoingMessage => ({
  to: { address: `reader${n}@example.org`, name: `Reader ${n}` },
  subject: 'Issue 1',
  html: `<p>${'Hello '.repeat(2000)}</p>`,
  text: 'Hello '.repeat(2000),
  messageId: `<issue-1-reader-${n}@example.org>`,
});

describe.runIf(smallDiskAvailable)('the outbox on a full disk', () => {
  it('leaves no empty or cut .eml files, and a resend after the disk frees makes one file per person', async () => {
    disk = mountSmallDisk(512);
    env = makeTempEnv();
    symlinkSync(disk.dir, env.config.outboxDir);
    const outbox = createMessenger(env.config);
    const files = () => readdirSync(env?.config.outboxDir ?? '').filter((f) => f !== 'filler');
    try {
      disk.fill();
      for (let n = 0; n < 10; n++) {
        await expect(outbox.send(message(n))).rejects.toMatchObject({ code: 'ENOSPC' });
      }
      expect(files()).toEqual([]);

      disk.free();
      // The resumed send, and one more resend of the first five (as after a kill mid-send).
      for (let n = 0; n < 10; n++) await outbox.send(message(n));
      for (let n = 0; n < 5; n++) await outbox.send(message(n));
      const written = files();
      expect(written).toHaveLength(10);
      expect(written.every((f) => f.endsWith('.eml'))).toBe(true);
      for (const file of written) {
        const full = path.join(env.config.outboxDir, file);
        expect(statSync(full).size).toBeGreaterThan(10_000);
        const mail = await simpleParser(readFileSync(full));
        expect(mail.text).toContain('Hello Hello');
      }
      expect(new Set(written.map((f) => /reader\d+@example\.org/.exec(f)?.[0])).size).toBe(10);
    } finally {
      outbox.close();
    }
  });
});
