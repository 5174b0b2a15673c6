import { domainToASCII } from 'node:url';
import emailAddresses from 'email-addresses';

// MAIL_FROM becomes the From header of every message and the domain of every Message-ID and
// List-Id, so it must be one RFC 5322 mailbox whose domain is a real host name: `not an address`
// sent mail with no From header, and a domain with a space made every Message-ID invalid. The
// syntax is parsed by email-addresses (an RFC 5322 grammar); the domain is then checked as a host
// name (letters, digits and hyphens per label, IDN converted to ASCII), as Message-IDs need.

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const EXAMPLE = 'use e.g. "Newsletter <news@example.org>" or news@example.org';

/** The canonical MAIL_FROM (`"Name" <local@domain>` or `local@domain`, domain in ASCII), or why not. */
export function parseMailFrom(input: string): { value: string } | { problem: string } {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  const parsed = /[\u0000-\u001f\u007f]/.test(input) ? null : emailAddresses.parseOneAddress({ input, rfc6532: true });
  if (!parsed || parsed.type !== 'mailbox') return { problem: `"${input}" is not one email address; ${EXAMPLE}` };
  if (!DOT_ATOM.test(parsed.local)) {
    return { problem: `"${parsed.local}" before the @ must be plain ASCII letters, digits and . _ + -; ${EXAMPLE}` };
  }
  const domain = domainToASCII(parsed.domain);
  if (domain === '' || domain.length > 253 || !domain.split('.').every((label) => LABEL.test(label))) {
    return {
      problem: `"${parsed.domain}" is not a valid domain for the sender's address; use a host name such as example.org`,
    };
  }
  const address = `${parsed.local}@${domain}`;
  const name = parsed.name?.trim();
  return { value: name ? `"${name.replace(/[\\"]/g, (c) => `\\${c}`)}" <${address}>` : address };
}
