import type { EmailFit, IssueStatus } from '../db/schema.js';

export type { EmailFit };

export interface Topic {
  id: number;
  slug: string;
  name: string;
  description: string;
  position: number;
}

export interface Source {
  url: string;
  label: string;
}

export interface Article {
  id: number;
  slug: string;
  title: string;
  /** The section this article is printed under; also one of its topics. */
  section: Topic;
  /** Every topic the article carries: its section first, then the extra topics. */
  topics: Topic[];
  tags: string[];
  takeaway: string | null;
  sources: Source[];
  bodyMarkdown: string;
}

export interface Publication {
  name: string;
  publisher: string;
  cadence: string;
  contact: string;
  aboutMarkdown: string;
}

export interface GlossaryEntry {
  abbreviation: string;
  english: string;
  chinese: string;
}

/**
 * What an issue says: the part of an issue a send fixes. A draft's content follows the library
 * (its articles as they are now); once its send starts, the content is a stored snapshot.
 */
export interface IssueContent {
  title: string;
  edition: string;
  period: string;
  editorNoteMarkdown: string;
  /** The issue's sections in print order. */
  sections: Topic[];
  /** The issue's articles in issue order. */
  articles: Article[];
  publication: Publication;
  glossary: GlossaryEntry[];
}

/** A correction published after the send: shown on the web version, mailed to nobody. */
export interface IssueCorrection {
  note: string;
  correctedAt: string;
}

/** One issue with everything needed to render any of its editions. */
export interface IssueDocument extends IssueContent {
  id: number;
  slug: string;
  status: IssueStatus;
  sendAt: string | null;
  sentAt: string | null;
  updatedAt: string;
  /** How editions meet the email size budget: fitted with teasers (`auto`), never (`full`), or all teasers. */
  emailFit: EmailFit;
  /** The editor's inbox preview line; empty: made from each edition's titles. */
  preheader: string;
  /** When the content was fixed (its send started); null for a draft, whose content follows the library. */
  frozenAt: string | null;
  /** Corrections published since, oldest first. */
  corrections: IssueCorrection[];
}
