import type { Composition } from '../issue-repository.js';

// Pure edits of an issue's composition; the repository stores the result in canonical form.

export type Direction = 'up' | 'down';

function swap<T>(list: T[], i: number, j: number): T[] {
  const next = [...list];
  const a = next[i];
  const b = next[j];
  if (a === undefined || b === undefined) return list;
  next[i] = b;
  next[j] = a;
  return next;
}

/** Moves an article one place within its section (articles never leave their section). */
export function moveArticle(c: Composition, articleId: number, direction: Direction): Composition {
  const index = c.articles.findIndex((a) => a.id === articleId);
  const article = c.articles[index];
  if (!article) return c;
  const step = direction === 'up' ? -1 : 1;
  for (let j = index + step; j >= 0 && j < c.articles.length; j += step) {
    if (c.articles[j]?.sectionId === article.sectionId) return { ...c, articles: swap(c.articles, index, j) };
  }
  return c;
}

export function moveSection(c: Composition, topicId: number, direction: Direction): Composition {
  const index = c.sections.indexOf(topicId);
  const j = direction === 'up' ? index - 1 : index + 1;
  if (index < 0 || j < 0 || j >= c.sections.length) return c;
  return { ...c, sections: swap(c.sections, index, j) };
}

/** Removes an article; a section left without articles is removed with it. */
export function removeArticle(c: Composition, articleId: number): Composition {
  const articles = c.articles.filter((a) => a.id !== articleId);
  return { sections: c.sections.filter((s) => articles.some((a) => a.sectionId === s)), articles };
}

/** Appends articles not yet in the issue, at the end of their sections. */
export function addArticles(c: Composition, added: { id: number; sectionId: number }[]): Composition {
  const fresh = added.filter((a) => !c.articles.some((x) => x.id === a.id));
  return { sections: c.sections, articles: [...c.articles, ...fresh] };
}

/**
 * Applies an order sent by drag and drop: the listed ids come first in that order, anything not
 * listed keeps its place after them. Sections still group the result when it is saved.
 */
export function reorderArticles(c: Composition, order: number[]): Composition {
  const listed = order.filter((id, i) => order.indexOf(id) === i && c.articles.some((a) => a.id === id));
  const articles = [
    ...listed
      .map((id) => c.articles.find((a) => a.id === id))
      .filter((a): a is { id: number; sectionId: number } => a !== undefined),
    ...c.articles.filter((a) => !listed.includes(a.id)),
  ];
  return { ...c, articles };
}
