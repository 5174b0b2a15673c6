import { isIP } from 'node:net';
import type { TrackedKind } from './click-token.js';

// Which requests to a tracked link or pixel are machines, not readers (README: How machine clicks
// are recognised). Each still gets its redirect or image; only the counting differs. The rule that
// needs several requests (many links of one message within a second) is the recorder's
// (click-recorder.ts), which sees them together.

export type MachineReason =
  | 'head-request'
  | 'prefetch'
  | 'scanner-agent'
  | 'soon-after-sending'
  | 'many-links-at-once'
  | 'apple-privacy-proxy'
  | 'gmail-image-proxy';

export interface TrackedRequest {
  kind: TrackedKind;
  method: string;
  userAgent: string;
  /** Purpose / Sec-Purpose / X-Moz / X-Purpose header, lower case, empty when absent. */
  purpose: string;
  ip: string;
  /** When the message was sent (from its tag) and when the request came. */
  sentAt: Date;
  at: Date;
}

/**
 * User agents of link scanners, previewers and HTTP libraries: security gateways (Microsoft Safe
 * Links and Defender, Mimecast, Proofpoint, Barracuda, Symantec, Trend Micro, Cisco IronPort, Sophos,
 * FireEye, Forcepoint), chat and mail link previews, crawlers, and scripts that name their library.
 */
const SCANNER_AGENT =
  /bot\b|bot\/|crawler|spider|preview|scanner|safelinks|defender|mimecast|proofpoint|barracuda|symantec|messagelabs|trendmicro|trend micro|ironport|sophos|fireeye|forcepoint|zscaler|headlesschrome|phantomjs|python-requests|python-urllib|aiohttp|curl\/|wget\/|go-http-client|java\/|okhttp|libwww|httpclient|axios\/|node-fetch|undici|microsoft office existence|ms-office|outlook-ios-linkpreview|skypeuripreview|slackbot|discordbot|whatsapp|facebookexternalhit|linkedinbot|twitterbot/i;

/** Gmail fetches every image through its proxy (ggpht.com) and caches it: one fetch says little. */
const GMAIL_PROXY = /GoogleImageProxy/;

/**
 * Apple Mail Privacy Protection loads every image of a message when it arrives, through Apple's
 * relays, whether or not it is read: from Apple's 17.0.0.0/8 network, with a bare `Mozilla/5.0`.
 */
function isApplePrivacyProxy(userAgent: string, ip: string): boolean {
  if (userAgent.trim() === 'Mozilla/5.0') return true;
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return isIP(v4) === 4 && v4.split('.')[0] === '17';
}

export function machineReason(request: TrackedRequest, scannerSeconds: number): MachineReason | null {
  if (request.method === 'HEAD') return 'head-request';
  if (request.purpose.includes('prefetch') || request.purpose.includes('preview')) return 'prefetch';
  if (request.userAgent.trim() === '' || SCANNER_AGENT.test(request.userAgent)) return 'scanner-agent';
  if (request.kind === 'open') {
    if (GMAIL_PROXY.test(request.userAgent)) return 'gmail-image-proxy';
    if (isApplePrivacyProxy(request.userAgent, request.ip)) return 'apple-privacy-proxy';
  }
  if (request.at.getTime() - request.sentAt.getTime() < scannerSeconds * 1000) return 'soon-after-sending';
  return null;
}
