import { describe, expect, it } from 'vitest';
import { FrontMatterError, parseFrontMatter } from '../../src/content/front-matter.js';

const refusal = (raw: string): string => {
  try {
    parseFrontMatter(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(FrontMatterError);
    return (error as Error).message;
  }
  throw new Error('parseFrontMatter accepted it');
};

describe('parseFrontMatter', () => {
  it('reads YAML front matter and the body after it', () => {
    const parsed = parseFrontMatter('---\ntitle: "A"\ntags: [x, y]\ndate: 2020-10-01\n---\n\nBody *text*\n');
    // YAML 1.2 core schema: a date stays the text it was written as.
    expect(parsed).toEqual({ data: { title: 'A', tags: ['x', 'y'], date: '2020-10-01' }, body: 'Body *text*' });
    expect(parseFrontMatter('\uFEFF---yaml\r\ntitle: B\r\n---\r\n').data).toEqual({ title: 'B' });
  });

  it('refuses every front-matter language but YAML, naming the marker, and never runs it', () => {
    const marker = `__front_matter_ran_${process.pid}`;
    const code = `{ title: (globalThis.${marker} = 'ran') }`;
    for (const language of ['js', 'javascript', ' js', 'coffee', 'json', 'toml']) {
      expect(refusal(`---${language}\n${code}\n---\nbody`)).toMatch(
        new RegExp(`front matter: is marked "${language.trim()}": only YAML front matter is accepted`),
      );
    }
    expect((globalThis as Record<string, unknown>)[marker]).toBeUndefined();
  });

  it('refuses tags that would construct objects or functions, alias bombs and duplicate keys', () => {
    expect(refusal('---\ntitle: !!js/function "function () { return 1 }"\n---\n')).toMatch(/Unresolved tag/);
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++)
      bomb.push(
        `${'b'.repeat(i)}: &${'b'.repeat(i)} [${Array(9)
          .fill(i === 1 ? '*a' : `*${'b'.repeat(i - 1)}`)
          .join(',')}]`,
      );
    expect(refusal(`---\n${bomb.join('\n')}\n---\n`)).toMatch(/is not valid YAML \(Excessive alias count/);
    expect(refusal('---\ntitle: a\ntitle: b\n---\n')).toMatch(/is not valid YAML \(Map keys must be unique/);
  });

  it('says what is missing', () => {
    expect(refusal('# no front matter')).toMatch(/has no front matter/);
    expect(refusal('---\ntitle: a\n')).toMatch(/front matter: has no closing --- line/);
  });
});
