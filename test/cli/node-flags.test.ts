import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../bin/node-flags.js';
import { descendants, startChildServer } from '../helpers/child-server.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

let env: TempEnv;
beforeAll(() => {
  env = makeTempEnv();
});
afterAll(() => env.cleanup());

describe("the service's V8 flags (bin/node-flags.js)", () => {
  it('are on the command line of `newsletter serve` started as `npx newsletter` starts it', async () => {
    const server = await startChildServer(env.env, 30_000, { through: 'shebang' });
    try {
      const argv = readFileSync(`/proc/${server.child.pid}/cmdline`, 'utf8').split('\0');
      for (const flag of NODE_FLAGS) expect(argv).toContain(flag);
      expect(argv).toContain('serve');
    } finally {
      await server.stop();
    }
  });

  it('are on the command line of the service `npm start` starts', async () => {
    // The real npm script; startChildServer runs it in its own process group and stops both.
    const server = await startChildServer(env.env, 60_000, { through: 'npm-start' });
    try {
      const service = descendants(server.child.pid ?? 0).find((p) =>
        p.argv.some((a) => a.endsWith('bin/newsletter.js')),
      );
      expect(service, 'the node process running bin/newsletter.js').toBeDefined();
      for (const flag of NODE_FLAGS) expect(service?.argv).toContain(flag);
      expect(service?.argv).toContain('serve');
    } finally {
      await server.stop();
    }
  });
});
