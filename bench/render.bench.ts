/**
 * npm run bench:render — MJML compile cost of the full issue and of a one-topic edition (the
 * baseline, median of several runs, measured here), against the per-subscriber fill of one compiled
 * edition. Targets: fill ≤ 1/100 of one compile, ≥ 20,000 subscribers/s on one core.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { openServices } from '../src/app/services.js';
import { createLogger } from '../src/log/logger.js';
import { importFolder } from '../src/content/import.js';
import { DEMO_DIR } from '../src/content/demo.js';

const SAMPLE = path.resolve(import.meta.dirname, '..', '..', 'shared', 'sample', 'oct-nov-2020');
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-render-'));
const config = loadConfig({
  DATA_DIR: dir,
  SECRET_KEY: 'bench-secret-0123456789abcdef0123456789',
  BASE_URL: 'https://news.example.org',
});
const services = await openServices(config, { logger: createLogger('silent') });
let peakRss = process.memoryUsage().rss;
const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));

let slug: string;
try {
  slug = (await importFolder(services.db, SAMPLE)).slug;
} catch {
  console.log(`(shared sample not found at ${SAMPLE}; using the demo issue)`);
  slug = (await importFolder(services.db, DEMO_DIR)).slug;
}
const doc = await services.renderer.document(slug);
const oneTopic = [doc.sections[1]?.slug ?? doc.sections[0]?.slug ?? ''];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function timeCompile(topics: string[] | null, runs: number): Promise<number> {
  const mjml = await services.renderer.renderMjml(slug, topics);
  await services.renderer.compileMjml(mjml); // warm-up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await services.renderer.compileMjml(mjml);
    times.push(performance.now() - t);
    sampleRss();
  }
  return median(times);
}

const RUNS = 7;
const fullCompile = await timeCompile(null, RUNS);
const editionCompile = await timeCompile(oneTopic, RUNS);

// The per-edition step the sender actually pays (frame compiled once per issue version, then slots).
services.renderer.invalidate(slug);
let t = performance.now();
const edition = await services.renderer.edition(slug, oneTopic);
const firstEdition = performance.now() - t;
t = performance.now();
await services.renderer.edition(slug, [doc.sections[2]?.slug ?? oneTopic[0] ?? '']);
const nextEdition = performance.now() - t;

// The fitting step (README: Size budget): the whole issue's edition, compiled with its frame ready,
// against the same edition with a budget it fits anyway (no fitting: one measurement). Other
// editions are compiled in between to push it out of the renderer's cache of 8.
async function timeWholeEdition(): Promise<{ ms: number; teasers: number }> {
  const times: number[] = [];
  let teasers = 0;
  for (let r = 0; r < RUNS; r++) {
    for (const section of doc.sections.slice(0, 9)) await services.renderer.edition(slug, [section.slug]);
    const started = performance.now();
    const whole = await services.renderer.edition(slug, null);
    times.push(performance.now() - started);
    teasers = whole.fit.teasers.length;
    sampleRss();
  }
  return { ms: median(times), teasers };
}
const fitted = await timeWholeEdition();
const budget = config.emailHtmlBudget;
config.emailHtmlBudget = 10_000_000;
services.renderer.invalidate(slug);
await services.renderer.edition(slug, null);
const unfitted = await timeWholeEdition();
config.emailHtmlBudget = budget;
services.renderer.invalidate(slug);
await services.renderer.edition(slug, oneTopic);

const N = 50_000;
const fieldsFor = (i: number) => ({
  name: `Reader ${i}`,
  email: `reader${i}@example.org`,
  webUrl: edition.webUrl,
  manageUrl: `https://news.example.org/preferences?token=${i}.abcdefghijklmnopqrstuvwxyz012345`,
  unsubscribeUrl: `https://news.example.org/unsubscribe?token=${i}.abcdefghijklmnopqrstuvwxyz012345`,
});
for (let i = 0; i < 1000; i++) edition.fill(fieldsFor(i)); // warm-up
let bytes = 0;
t = performance.now();
for (let i = 0; i < N; i++) {
  const out = edition.fill(fieldsFor(i));
  bytes += out.html.length + out.text.length;
  if (i % 5000 === 0) sampleRss();
}
const fillMs = (performance.now() - t) / N;

const fmt = (n: number, d = 2) => n.toFixed(d);
console.log(
  `issue: ${slug} (${doc.articles.length} articles); one-topic edition: ${oneTopic.join(',')} (${edition.articleCount} articles)`,
);
console.log(`MJML compile, full issue (median of ${RUNS}):       ${fmt(fullCompile)} ms`);
console.log(`MJML compile, one-topic edition (median of ${RUNS}): ${fmt(editionCompile)} ms   <- baseline`);
console.log(`first edition of an issue version (frame compile + slots): ${fmt(firstEdition)} ms`);
console.log(`each further edition (slots only, no MJML compile):        ${fmt(nextEdition)} ms`);
console.log(
  `whole issue's edition, fitted to the ${budget}-byte budget (${fitted.teasers} teasers, median of ${RUNS}): ${fmt(fitted.ms)} ms`,
);
console.log(`the same edition under a budget it fits (one measurement, no fitting):        ${fmt(unfitted.ms)} ms`);
console.log(`time to fit the whole issue: ${fmt(fitted.ms - unfitted.ms)} ms`);
console.log(
  `per-subscriber fill: ${fmt(fillMs * 1000, 1)} µs (${N} fills, ${(bytes / N / 1024).toFixed(0)} KiB per message)`,
);
console.log(`fill / one-topic compile = 1/${fmt(editionCompile / fillMs, 0)}   (target: at most 1/100)`);
console.log(`fill / full compile      = 1/${fmt(fullCompile / fillMs, 0)}`);
console.log(`subscribers per second on one core: ${fmt(1000 / fillMs, 0)}   (target: at least 20,000)`);
console.log(`MJML compiles in this run: ${services.renderer.compileCount}`);
console.log(`peak RSS: ${(peakRss / 1024 / 1024).toFixed(0)} MB`);
await services.close();
rmSync(dir, { recursive: true, force: true });
