import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../bin/node-flags.js';
import { ROOT, startChildServer } from '../helpers/child-server.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

let env: TempEnv;
beforeAll(() => {
  env = makeTempEnv();
});
afterAll(() => env.cleanup());

describe("the service's V8 flags (bin/node-flags.js)", () => {
  it('are on the command line of `newsletter serve` started as `npx newsletter` starts it', async () => {
    const server = await startChildServer(env.env, 30_000, { throughShebang: true });
    try {
      const argv = readFileSync(`/proc/${server.child.pid}/cmdline`, 'utf8').split('\0');
      for (const flag of NODE_FLAGS) expect(argv).toContain(flag);
      expect(argv).toContain('serve');
    } finally {
      await server.stop();
    }
  });

  it('are passed by the npm scripts that start the service', () => {
    const scripts = (
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    const launch = `node ${NODE_FLAGS.join(' ')} bin/newsletter.js`;
    expect(scripts.start).toBe(`${launch} serve`);
    expect(scripts.newsletter).toBe(launch);
  });
});
