import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import matter from 'gray-matter';
import { SAMPLE_DIR } from './temp-env.js';

export const sampleAvailable = existsSync(path.join(SAMPLE_DIR, 'issue.md'));
if (!sampleAvailable) {
  console.warn(`SKIPPING sample-based tests: the shared sample is not at ${SAMPLE_DIR} (CI always has it)`);
}

export interface SampleArticle {
  file: string;
  title: string;
  section: string;
  takeaway?: string;
}

/** Reads the sample's own files, so expectations come from the source, not from our importer. */
export function readSample(): { sections: string[]; articles: SampleArticle[]; glossaryRows: number } {
  const issue = matter(readFileSync(path.join(SAMPLE_DIR, 'issue.md'), 'utf8'), {}).data as {
    sections: string[];
    articles: string[];
  };
  const articles = issue.articles.map((file) => {
    const data = matter(readFileSync(path.join(SAMPLE_DIR, 'articles', file), 'utf8'), {}).data as SampleArticle;
    return { ...data, file };
  });
  const glossaryRows = readFileSync(path.join(SAMPLE_DIR, 'abbreviations.tsv'), 'utf8').trim().split('\n').length - 1;
  return { sections: issue.sections, articles, glossaryRows };
}
