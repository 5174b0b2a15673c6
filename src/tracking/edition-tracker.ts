import type { Db } from '../db/database.js';
import type { CompiledEdition } from '../render/issue-renderer.js';
import { trackingTokens, type TrackingTokens } from './click-token.js';
import { findLinks, rewriteEdition } from './link-rewriter.js';
import { registerEditionLinks, type TrackingSettings } from './tracking-repository.js';

export interface EditionTrackerDeps {
  db: Db;
  baseUrl: string;
  secretKey: string;
  /** Read once per send run (or test copy): a change applies to the next run. */
  settings: TrackingSettings;
}

/**
 * Tracking for one issue's send: rewrites each edition once (links recorded in tracked_links) and
 * makes each message's tag. At the `off` level it changes nothing.
 */
export class EditionTracker {
  private readonly tokens: TrackingTokens;
  private readonly editions = new WeakMap<CompiledEdition, Promise<CompiledEdition>>();

  constructor(
    private readonly deps: EditionTrackerDeps,
    private readonly issueId: number,
  ) {
    this.tokens = trackingTokens(deps.secretKey);
  }

  get enabled(): boolean {
    return this.deps.settings.level !== 'off';
  }

  /** The edition as this send mails it: links rewritten, or unchanged when tracking is off. */
  track(edition: CompiledEdition): Promise<CompiledEdition> {
    if (!this.enabled || edition.empty) return Promise.resolve(edition);
    let tracked = this.editions.get(edition);
    if (!tracked) {
      tracked = this.rewrite(edition);
      this.editions.set(edition, tracked);
      tracked.catch(() => this.editions.delete(edition));
    }
    return tracked;
  }

  /**
   * The message's `trackingTag` field: when it is made and, only at `individual` for a reader who
   * opted in, who it is for. Empty when tracking is off.
   */
  tagFor(recipient: { id: number; trackingOptIn?: boolean } | null, test = false, now = new Date()): string {
    if (!this.enabled) return '';
    const individual = this.deps.settings.level === 'individual' && recipient?.trackingOptIn === true;
    return `.${this.tokens.tag(this.issueId, { sentAt: now, subscriberId: individual && recipient ? recipient.id : null, test })}`;
  }

  private async rewrite(edition: CompiledEdition): Promise<CompiledEdition> {
    const found = findLinks(edition);
    const ids = await registerEditionLinks(
      this.deps.db,
      this.issueId,
      edition.key,
      found.links,
      this.deps.settings.trackOpens,
    );
    return rewriteEdition(edition, found, {
      baseUrl: this.deps.baseUrl,
      linkTokens: found.links.map((l) =>
        this.tokens.linkToken({ kind: 'link', linkId: ids.links[l.position] as number }),
      ),
      openToken: ids.open !== null ? this.tokens.linkToken({ kind: 'open', linkId: ids.open }) : null,
    });
  }
}
