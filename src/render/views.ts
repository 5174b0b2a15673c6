import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { contactHref } from './contact-link.js';

export type ViewData = Record<string, unknown>;

/**
 * Server-rendered pages: `templates/web/pages/<name>.hbs` inside `templates/web/layouts/<layout>.hbs`,
 * with partials from `templates/web/partials/`. Everything is HTML-escaped unless a template uses
 * triple braces, which only ever receive HTML we sanitised ourselves.
 */
export class Views {
  private readonly hbs = Handlebars.create();
  private readonly cache = new Map<string, Handlebars.TemplateDelegate>();
  private readonly root: string;

  constructor(templatesDir: string) {
    this.root = path.join(templatesDir, 'web');
    const partials = path.join(this.root, 'partials');
    if (existsSync(partials)) {
      for (const file of readdirSync(partials)) {
        if (file.endsWith('.hbs'))
          this.hbs.registerPartial(file.slice(0, -4), readFileSync(path.join(partials, file), 'utf8'));
      }
    }
    this.hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
    this.hbs.registerHelper('contactHref', contactHref);
  }

  private template(relative: string): Handlebars.TemplateDelegate {
    let t = this.cache.get(relative);
    if (!t) {
      const file = path.join(this.root, relative);
      t = this.hbs.compile(readFileSync(file, 'utf8'), { strict: false });
      this.cache.set(relative, t);
    }
    return t;
  }

  /** Renders a page; `layout: null` renders the page alone. */
  render(page: string, data: ViewData = {}, layout: string | null = 'main'): string {
    const body = this.template(`pages/${page}.hbs`)(data);
    if (layout === null) return body;
    return this.template(`layouts/${layout}.hbs`)({ ...data, body });
  }
}
