import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { contactHref } from './contact-link.js';

/** A template value as text: strings and numbers as they are, anything else (objects, nothing) empty. */
function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

/** One Handlebars environment per output kind, loaded from `templates/` so designers never touch code. */
export function createEngine(partialDirs: string[]): typeof Handlebars {
  const hbs = Handlebars.create();
  for (const dir of partialDirs) {
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir)) {
      if (file.endsWith('.hbs')) hbs.registerPartial(file.slice(0, -4), readFileSync(path.join(dir, file), 'utf8'));
    }
  }
  hbs.registerHelper('contactHref', contactHref);
  hbs.registerHelper('upper', (s: unknown) => text(s).toUpperCase());
  hbs.registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).map(String).join(''));
  // Underlines a heading in the text part; CJK characters take two columns in a terminal font.
  hbs.registerHelper('rule', (s: unknown, char: unknown) => {
    const heading = text(s);
    let width = 0;
    for (const c of heading)
      width += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(c)
        ? 2
        : 1;
    return (text(char) || '-').repeat(Math.min(width, 72));
  });
  return hbs;
}

export function compileFile(
  hbs: typeof Handlebars,
  file: string,
  options: { text?: boolean } = {},
): Handlebars.TemplateDelegate {
  return hbs.compile(readFileSync(file, 'utf8'), { noEscape: options.text === true, strict: false });
}
