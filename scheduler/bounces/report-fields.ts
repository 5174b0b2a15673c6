// The body of a `message/delivery-status` (RFC 3464 §2.1) or `message/feedback-report` (RFC 5965
// §3.1) part: groups of header-style fields separated by blank lines. A DSN's first group is about
// the message, each further group about one recipient; a feedback report has one group. Folded
// lines are unfolded; names are matched without regard to case; a repeated field keeps its first
// value (RFC 3464 allows each at most once per group).

export type FieldGroup = Map<string, string>;

export function parseFieldGroups(body: string): FieldGroup[] {
  const groups: FieldGroup[] = [];
  let current: FieldGroup | null = null;
  let lastName: string | null = null;
  for (const line of body.replace(/\r\n?/g, '\n').split('\n')) {
    if (line.trim() === '') {
      current = null;
      lastName = null;
      continue;
    }
    if (/^[ \t]/.test(line)) {
      // A continuation of the previous field (RFC 5322 folding).
      if (current && lastName !== null) current.set(lastName, `${current.get(lastName) ?? ''} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (!current) {
      current = new Map();
      groups.push(current);
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    lastName = current.has(name) ? null : name;
    if (lastName !== null) current.set(name, line.slice(colon + 1).trim());
  }
  return groups;
}

/** The address of a typed field such as `Final-Recipient: rfc822; ann@example.net` (RFC 3464 §2.3.2). */
export function typedAddress(value: string | undefined): string | null {
  if (value === undefined) return null;
  const semicolon = value.indexOf(';');
  const address = (semicolon >= 0 ? value.slice(semicolon + 1) : value).trim().replace(/^<|>$/g, '');
  return address !== '' ? address : null;
}

/** The text of a typed field such as `Diagnostic-Code: smtp; 550 5.1.1 …`, without its type. */
export function typedText(value: string | undefined): string | null {
  if (value === undefined) return null;
  const match = /^\s*[a-z0-9-]+\s*;\s*([\s\S]*)$/i.exec(value);
  const text = (match ? (match[1] ?? '') : value).trim();
  return text !== '' ? text : null;
}

/** An RFC 3463 enhanced status code (class.subject.detail, up to three digits each), or null. */
export function statusCode(value: string | undefined | null): string | null {
  if (!value) return null;
  return /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(value)?.[1] ?? null;
}
