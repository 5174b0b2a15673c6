import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { isSupportedNode, unsupportedNodeMessage } from '../../bin/node-version.js';
import { ROOT } from '../helpers/child-server.js';

// On Node 20 the command line used to stop with "module.enableCompileCache is not a function" and the
// tests with "Channel closed": the versions the service does not run on get a message saying what to
// install, before anything else loads.

const engines = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } })
  .engines.node;

/** Runs `bin/newsletter.js` in a Node that reports `version` as its own. */
function newsletterAs(version: string, args: string[]) {
  const script = [
    `Object.defineProperty(process.versions, 'node', { value: ${JSON.stringify(version)} });`,
    `await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'bin', 'newsletter.js')).href)});`,
  ].join('\n');
  // `node -e` puts no script path in process.argv: the file's path stands in its place.
  const bin = path.join(ROOT, 'bin', 'newsletter.js');
  return spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', bin, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    timeout: 60_000,
  });
}

describe('the Node.js versions the service runs on', () => {
  it("accepts exactly package.json's engines range", () => {
    const versions = ['18.20.4', '20.19.0', '20.20.2', '21.7.3', '22.0.0', '22.13.1', '22.14.0', '22.23.3'];
    versions.push('23.11.0', '24.0.0', '24.21.0', '25.2.1', '26.0.0');
    for (const version of versions)
      expect([version, isSupportedNode(version)]).toEqual([version, semver.satisfies(version, engines)]);
  });

  it('the command line on Node 20 says what to install and exits 1, without a stack trace', () => {
    const run = newsletterAs('20.20.2', ['--help']);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(unsupportedNodeMessage('newsletter', '20.20.2'));
    expect(run.stderr).toContain('needs Node.js 24 (or 22.14 and later 22.x); this is Node 20.20.2.');
    expect(run.stderr).toContain('source scripts/use-node.sh 24');
  });

  it('the command line on this Node runs', () => {
    const run = newsletterAs(process.versions.node, ['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout + run.stderr).toContain('Usage: newsletter [options] [command]');
    expect(run.stdout + run.stderr).not.toContain('needs Node.js');
  });
});
