// @ts-check
// Turns the TypeScript sources into plain JavaScript under dist/ (types stripped by esbuild, one
// output file per source file, same folders), so the service runs on Node alone. Running
// TypeScript through a loader instead (tsx) costs every process a loader thread of about 36 MB
// and slower starts. The build takes well under a second and happens only when a source changed:
// `ensureBuilt()` compares a fingerprint of the sources (paths, sizes, modification times) with
// the one stored beside the last build, so `npm start` after an edit never runs stale code.
//
//   node bin/build.js        builds when stale (always with --force) and prints where
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST_DIR = path.join(PROJECT_ROOT, 'dist');
/** What runs outside the test runner: the service and the benchmarks' workers. */
const SOURCE_DIRS = ['src', 'editors', 'subscribers', 'scheduler', 'api', 'bench'];
const FINGERPRINT_FILE = '.fingerprint';

/** @param {string} root @returns {string[]} root-relative paths of the .ts and .js sources, sorted */
function sourceFiles(root) {
  /** @type {string[]} */
  const files = [];
  /** @param {string} dir */
  const walk = (dir) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (/\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) files.push(rel);
    }
  };
  for (const dir of SOURCE_DIRS) if (existsSync(path.join(root, dir))) walk(dir);
  return files.sort();
}

/** @param {string} root @param {string[]} files */
function fingerprint(root, files) {
  const hash = createHash('sha256');
  for (const rel of files) {
    const stat = statSync(path.join(root, rel));
    hash.update(`${rel}\0${stat.size}\0${stat.mtimeMs}\n`);
  }
  // The build script itself is part of the recipe.
  const recipe = statSync(fileURLToPath(import.meta.url));
  hash.update(`build.js\0${recipe.size}\0${recipe.mtimeMs}\n`);
  return hash.digest('hex');
}

/**
 * Builds `<root>/dist` unless it was built from the sources as they are now.
 * @param {{ force?: boolean; root?: string }} [options] root: the project (tests use a small one)
 * @returns {Promise<{ dir: string; built: boolean; files: number }>}
 */
export async function ensureBuilt(options = {}) {
  const root = options.root ?? PROJECT_ROOT;
  const distDir = path.join(root, 'dist');
  const files = sourceFiles(root);
  const wanted = fingerprint(root, files);
  const stampFile = path.join(distDir, FINGERPRINT_FILE);
  if (!options.force && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === wanted)
    return { dir: distDir, built: false, files: files.length };

  // Loaded only when building: a process that runs an up-to-date build never carries esbuild.
  const { buildSync } = await import('esbuild');
  // Built aside and swapped in whole, so a process starting meanwhile never sees half a build.
  const staging = `${distDir}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  buildSync({
    entryPoints: files.map((rel) => path.join(root, rel)),
    outdir: staging,
    outbase: root,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Linked maps: `NODE_OPTIONS=--enable-source-maps` shows stack traces in the TypeScript sources.
    sourcemap: 'linked',
    logLevel: 'error',
  });
  writeFileSync(path.join(staging, FINGERPRINT_FILE), wanted);
  const old = `${distDir}.${process.pid}.old`;
  if (existsSync(distDir)) renameSync(distDir, old);
  try {
    renameSync(staging, distDir);
  } catch (error) {
    // Another process swapped in the same build first: theirs is as good as ours.
    if (!existsSync(distDir)) throw error;
    rmSync(staging, { recursive: true, force: true });
  }
  rmSync(old, { recursive: true, force: true });
  return { dir: distDir, built: true, files: files.length };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const { dir, built, files } = await ensureBuilt({ force: process.argv.includes('--force') });
  process.stdout.write(
    built
      ? `built ${files} files into ${dir} in ${Math.round(performance.now() - started)} ms\n`
      : `${dir} is up to date (${files} files)\n`,
  );
}
