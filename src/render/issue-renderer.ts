// PLACEHOLDER — being written now (see issue 2). API is final:
import type { Config } from '../config/config.js';
import type { Db } from '../db/database.js';

export interface PersonalFields {
  name: string;
  email: string;
  webUrl: string;
  manageUrl: string;
  unsubscribeUrl: string;
}

export interface CompiledEdition {
  issueSlug: string;
  key: string;
  empty: boolean;
  articleCount: number;
  subject: string;
  fill(fields: PersonalFields): { html: string; text: string };
}

export class IssueRenderer {
  compileCount = 0;
  constructor(private readonly deps: { db: Db; config: Config }) {}
  async edition(issueSlug: string, topicSlugs: readonly string[] | null): Promise<CompiledEdition> {
    throw new Error('not yet');
  }
  async renderWeb(issueSlug: string, topicSlugs: readonly string[] | null): Promise<string> {
    throw new Error('not yet');
  }
  invalidate(issueSlug?: string): void {}
}
