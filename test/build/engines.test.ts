import { readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/child-server.js';

interface LockPackage {
  version?: string;
  engines?: { node?: string } | string[];
}

const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockPackage>;
};

// `npm ci` warns EBADENGINE for every installed package whose `engines.node` leaves out the running
// Node. The project promises its own range (`engines` in package.json): every package it installs,
// development tools included, must accept all of it, so no user or contributor on a supported Node
// sees a warning.
describe('engines', () => {
  it('the project supports the LTS lines 22 and 24 and not Node 20', () => {
    const ours = manifest.engines.node;
    expect(semver.satisfies('22.14.0', ours)).toBe(true);
    expect(semver.satisfies('24.0.0', ours)).toBe(true);
    expect(semver.satisfies(process.versions.node, ours)).toBe(true);
    expect(semver.satisfies('20.19.0', ours)).toBe(false);
  });

  it('every package in the lock file accepts every Node the project accepts', () => {
    const ours = manifest.engines.node;
    const narrower = Object.entries(lock.packages)
      .filter(([name]) => name !== '')
      .flatMap(([name, pkg]) => {
        const range = Array.isArray(pkg.engines) ? undefined : pkg.engines?.node;
        if (!range || semver.subset(ours, range)) return [];
        return [`${name.replace(/^.*node_modules\//, '')}@${pkg.version ?? '?'} wants node ${range}`];
      });
    expect(narrower).toEqual([]);
  });
});
