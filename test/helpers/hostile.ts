import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO_DIR } from '../../src/content/demo.js';

export const HOSTILE_ARTICLE = `---
title: "Hostile <script>alert('title')</script> 标准化 {{publication.name}}"
section: "Getting Started"
tags: ["<img src=x onerror=alert('tag')>"]
takeaway: "<b onmouseover=alert('takeaway')>bold</b> [x](javascript:alert('takeaway-link'))"
sources:
  - url: "https://example.org/?q=%3Cscript%3E"
    label: "<script>alert('source')</script>"
---

<script>alert('body')</script>

<img src="https://example.org/x.png" onerror="alert('img')" alt="x">

[click me](javascript:alert('link'))

<iframe src="https://evil.example/"></iframe>

<p style="position:fixed;top:0;left:0">styled</p>

<form action="https://evil.example/"><input name="a"><button>go</button></form>

<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>

<svg onload="alert('svg')"><circle r="5"/></svg>

Literal template syntax: {{fields.unsubscribeUrl}} {{#each issue}}x{{/each}} {{> email-index}} NLSLOTemailindexNLSLOT
`;

/** A copy of the demo issue with one hostile article added as the first article. */
export function hostileFolder(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hostile-'));
  cpSync(DEMO_DIR, dir, { recursive: true });
  writeFileSync(path.join(dir, 'articles', '00-hostile.md'), HOSTILE_ARTICLE);
  const issueFile = path.join(dir, 'issue.md');
  const issue = readFileSync(issueFile, 'utf8');
  writeFileSync(issueFile, issue.replace('articles:\n', 'articles:\n  - 00-hostile.md\n'));
  return dir;
}

/** Patterns that would make hostile input active in an HTML document. */
export const ACTIVE_PATTERNS: [string, RegExp][] = [
  ['script with alert', /<script[^>]*>[^<]*alert/i],
  ['event handler attribute', /<[a-z][^>]*\son[a-z]+\s*=/i],
  ['javascript: URL', /(href|src)\s*=\s*["']?\s*javascript:/i],
  ['data: URL', /(href|src)\s*=\s*["']?\s*data:/i],
  ['iframe', /<iframe/i],
  ['form', /<form/i],
  ['input', /<input/i],
  ['svg', /<svg/i],
  ['author style', /position:\s*fixed/i],
];
