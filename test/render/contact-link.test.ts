import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contactHref } from '../../src/render/contact-link.js';
import { startDemoArchive } from '../helpers/demo-archive.js';
import type { WebHarness } from '../subscribers/web-harness.js';

describe('contactHref', () => {
  it('links an email address with mailto:, a web address to itself, and anything else nowhere', () => {
    expect(contactHref('editors@example.org')).toBe('mailto:editors@example.org');
    expect(contactHref('https://example.org/contact?x=1')).toBe('https://example.org/contact?x=1');
    expect(contactHref('HTTP://Example.org')).toBe('http://example.org/');
    expect(contactHref('Call +32 2 555 01 23')).toBe('');
    expect(contactHref('javascript:alert(1)')).toBe('');
    expect(contactHref('https://exa mple.org')).toBe('');
    expect(contactHref(undefined)).toBe('');
  });
});

describe('the contact in the email and on the pages, by kind', () => {
  let h: WebHarness;
  beforeAll(async () => {
    h = await startDemoArchive();
  });
  afterAll(() => h.close());

  const setContact = async (contact: string) => {
    await h.services.db.updateTable('publication').set({ contact }).execute();
    h.services.renderer.invalidate();
  };
  const emailHtml = async () => {
    const edition = await h.services.renderer.edition('welcome', null);
    return edition.fill(h.services.renderer.previewFields('welcome', null)).html;
  };
  const page = async () => (await fetch(`${h.base}/issues/welcome`)).text();
  const links = (html: string) =>
    [...html.matchAll(/<a href="([^"]*)"[^>]*>([^<]*contact[^<]*)<\/a>/gi)].map((m) => m[1]);

  it('a web address links to itself, never to mailto:https://…', async () => {
    await setContact('https://example.org/contact');
    for (const html of [await emailHtml(), await page()]) {
      expect(html).not.toContain('mailto:https');
      expect(links(html)).toContain('https://example.org/contact');
    }
  });

  it('an email address links with mailto:', async () => {
    await setContact('contact@example.org');
    for (const html of [await emailHtml(), await page()]) expect(links(html)).toContain('mailto:contact@example.org');
  });

  it('plain text is shown as text, not as a link', async () => {
    await setContact('Ask for the editors at the front desk');
    for (const html of [await emailHtml(), await page()]) {
      expect(html).toContain('Ask for the editors at the front desk');
      expect(html).not.toMatch(/href="[^"]*Ask for the editors/);
    }
  });
});
