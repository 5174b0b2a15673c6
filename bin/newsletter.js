#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=50
// @ts-check
// The command line. Runs the JavaScript that bin/build.js makes from the TypeScript sources,
// building first when a source changed, so `npx newsletter` works right after `npm ci`.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBuilt } from './build.js';

const { dir } = await ensureBuilt();
/** @type {{ main(argv: string[]): Promise<number> }} */
const cli = await import(pathToFileURL(path.join(dir, 'src', 'cli', 'main.js')).href).then(
  (/** @type {{ main(argv: string[]): Promise<number> }} */ module) => module,
);
process.exitCode = await cli.main(process.argv.slice(2));
