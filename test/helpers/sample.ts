// The publisher's real issue, kept beside the project in CI (../shared/sample) and absent from a
// clone of the project alone. Only the extra tests named *.sample.test.ts use it; vitest.config.ts
// leaves them out, with one printed line, when it is missing. Every other test uses the project's
// own long issue (test/fixtures/long-issue.ts).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

export const SAMPLE_DIR = path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'sample', 'oct-nov-2020');

export function sampleAvailable(): boolean {
  return existsSync(path.join(SAMPLE_DIR, 'issue.md'));
}

export interface SampleArticle {
  file: string;
  title: string;
  section: string;
  takeaway?: string;
}

/** The YAML between the first two `---` lines, read with the yaml package alone (not our importer). */
function frontMatterOf(file: string): unknown {
  return parse(readFileSync(file, 'utf8').split(/^---\s*$/m)[1] ?? '');
}

/** Reads the sample's own files, so expectations come from the source, not from our importer. */
export function readSample(): { slug: string; sections: string[]; articles: SampleArticle[]; glossaryRows: number } {
  const issue = frontMatterOf(path.join(SAMPLE_DIR, 'issue.md')) as {
    slug: string;
    sections: string[];
    articles: string[];
  };
  const articles = issue.articles.map((file) => {
    const data = frontMatterOf(path.join(SAMPLE_DIR, 'articles', file)) as SampleArticle;
    return { ...data, file };
  });
  const glossaryRows = readFileSync(path.join(SAMPLE_DIR, 'abbreviations.tsv'), 'utf8').trim().split('\n').length - 1;
  return { slug: issue.slug, sections: issue.sections, articles, glossaryRows };
}
