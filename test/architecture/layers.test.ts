import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/config.js';

// The folders show the architecture: the core at the bottom, the three domains (one per kind of
// person the service serves) above it, and the composition roots (web server, CLI) on top wiring
// them together. An arrow may only point down. This reads every relative import of the shipped
// sources and names each one that points up.

/** Lower index = lower layer. A module may import its own layer or any layer below. */
const LAYERS: { name: string; folders: string[] }[] = [
  {
    name: 'core',
    folders: [
      'src/config',
      'src/log',
      'src/db',
      'src/mail',
      'src/content',
      'src/render',
      'src/http',
      'src/command',
      'src/app',
      'src/tracking',
    ],
  },
  { name: 'subscribers', folders: ['subscribers'] },
  { name: 'scheduler', folders: ['scheduler'] },
  { name: 'editors', folders: ['editors'] },
  // The public integrations of issue 15 (JSON API): built on every domain, below the roots.
  { name: 'integrations', folders: ['api'] },
  { name: 'roots', folders: ['src/web', 'src/cli'] },
];

function layerOf(file: string): number {
  const index = LAYERS.findIndex((layer) => layer.folders.some((folder) => file.startsWith(`${folder}/`)));
  if (index === -1) throw new Error(`${file} is in no layer: add its folder to LAYERS in this test`);
  return index;
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) files.push(...sourceFiles(rel));
    else if (/\.(ts|js)$/.test(entry.name)) files.push(rel);
  }
  return files;
}

function relativeImports(file: string): string[] {
  const text = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1] ?? '');
  return specifiers.map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
}

describe('layers', () => {
  const files = ['src', 'subscribers', 'scheduler', 'editors', 'api'].flatMap(sourceFiles);

  it('finds the sources it checks', () => {
    expect(files.length).toBeGreaterThan(80);
    expect(files).toContain('src/db/database.ts');
    expect(files).toContain('editors/router.ts');
  });

  it('no module imports a layer above its own', () => {
    const upward: string[] = [];
    for (const file of files) {
      const own = layerOf(file);
      for (const target of relativeImports(file)) {
        const theirs = layerOf(target);
        if (theirs > own) upward.push(`${file} (${LAYERS[own]?.name}) imports ${target} (${LAYERS[theirs]?.name})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('would name an upward import', () => {
    // The check itself: a core file importing a domain is caught.
    expect(layerOf('src/render/issue-renderer.ts')).toBeLessThan(layerOf('scheduler/send-manager.ts'));
    expect(layerOf('src/db/database.ts')).toBeLessThan(layerOf('editors/router.ts'));
    expect(layerOf('subscribers/routes.ts')).toBeLessThan(layerOf('src/web/server.ts'));
  });
});
