import { parseDocument } from 'yaml';

// Front matter is YAML and nothing else. gray-matter, which the import used before, runs front matter
// opened with `---js` or `---javascript` through eval: a content folder could run code as whoever
// imports it. Splitting a `---` block off the top of a file is a few lines; the YAML itself is parsed
// by the `yaml` package (YAML 1.2 core schema: no tags that construct objects or run code, alias
// expansion capped against "billion laughs", duplicate keys refused).

/** What is wrong with a file's front matter (`field` null: the file as a whole); the caller names the file. */
export class FrontMatterError extends Error {
  constructor(
    readonly field: string | null,
    readonly reason: string,
  ) {
    super(`${field ? `${field}: ` : ''}${reason}`);
  }
}

export interface FrontMatter {
  data: unknown;
  body: string;
}

const OPENING = /^---([^\r\n]*)\r?\n/;
const CLOSING = /^---[ \t]*(?:\r?\n|$)/m;
const MAX_ALIASES = 100;

/** Splits and parses a Markdown file's YAML front matter; refuses any other front-matter language. */
export function parseFrontMatter(raw: string): FrontMatter {
  const text = raw.startsWith('\uFEFF') ? raw.slice(1) : raw;
  const opening = OPENING.exec(text);
  if (!opening) throw new FrontMatterError(null, 'has no front matter (it must start with a --- line)');
  const marker = (opening[1] ?? '').trim();
  if (marker !== '' && !/^ya?ml$/i.test(marker)) {
    throw new FrontMatterError(
      'front matter',
      `is marked "${marker.slice(0, 40)}": only YAML front matter is accepted (open it with a plain --- line)`,
    );
  }
  const rest = text.slice(opening[0].length);
  const closing = CLOSING.exec(rest);
  if (!closing) throw new FrontMatterError('front matter', 'has no closing --- line');
  const doc = parseDocument(rest.slice(0, closing.index), { schema: 'core', uniqueKeys: true, prettyErrors: false });
  // Warnings include unknown tags such as `!!js/function`: refused too rather than read as text.
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    throw new FrontMatterError('front matter', `is not valid YAML (${problem.message.split('\n')[0]})`);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES }) ?? {};
  } catch (error) {
    throw new FrontMatterError('front matter', `is not valid YAML (${error instanceof Error ? error.message : ''})`);
  }
  return { data, body: rest.slice(closing.index + closing[0].length).trim() };
}
