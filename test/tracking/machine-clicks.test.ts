import { describe, expect, it } from 'vitest';
import { machineReason, type TrackedRequest } from '../../src/tracking/machine-clicks.js';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const sentAt = new Date('2026-11-26T10:00:00Z');
const request = (more: Partial<TrackedRequest> = {}): TrackedRequest => ({
  kind: 'link',
  method: 'GET',
  userAgent: FIREFOX,
  purpose: '',
  ip: '198.51.100.7',
  sentAt,
  at: new Date(sentAt.getTime() + 5 * 60_000),
  ...more,
});

describe('machine clicks', () => {
  it('takes a browser click minutes after sending for a reader', () => {
    expect(machineReason(request(), 30)).toBeNull();
    expect(machineReason(request({ kind: 'open' }), 30)).toBeNull();
  });

  it('recognises each kind of machine', () => {
    expect(machineReason(request({ method: 'HEAD' }), 30)).toBe('head-request');
    expect(machineReason(request({ purpose: 'prefetch' }), 30)).toBe('prefetch');
    for (const ua of [
      '',
      'Mozilla/5.0 (compatible; Barracuda Sentinel (EE))',
      'python-requests/2.32.3',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36',
      'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
      'curl/8.5.0',
    ]) {
      expect(machineReason(request({ userAgent: ua }), 30), ua).toBe('scanner-agent');
    }
    expect(machineReason(request({ at: new Date(sentAt.getTime() + 10_000) }), 30)).toBe('soon-after-sending');
    expect(machineReason(request({ at: new Date(sentAt.getTime() + 10_000) }), 0)).toBeNull();
  });

  it('recognises image proxies for opens only', () => {
    const gmail = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
    expect(machineReason(request({ kind: 'open', userAgent: gmail }), 30)).toBe('gmail-image-proxy');
    expect(machineReason(request({ kind: 'open', userAgent: 'Mozilla/5.0' }), 30)).toBe('apple-privacy-proxy');
    expect(machineReason(request({ kind: 'open', ip: '17.58.100.2' }), 30)).toBe('apple-privacy-proxy');
    expect(machineReason(request({ kind: 'open', ip: '::ffff:17.58.100.2' }), 30)).toBe('apple-privacy-proxy');
    expect(machineReason(request({ kind: 'link', ip: '17.58.100.2' }), 30)).toBeNull();
  });
});
