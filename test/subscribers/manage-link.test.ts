import { beforeAll, describe, expect, it } from 'vitest';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { Client, confirmVia, linkIn, mainOf, nextMailTo, signUp, useHarness } from './web-harness.js';

// Issue 11 §4: "email me a link to manage my topics" (/manage). The link goes to the address
// itself, over loopback SMTP, and opens that subscriber's preferences; the page answers the same
// for an unknown address and sends nothing then.

const h = useHarness();

beforeAll(async () => {
  await addSubscriber(
    h.services.db,
    h.temp.config.secretKey,
    { email: 'reader@example.org', topics: ['open-data'] },
    {
      source: 'cli',
    },
  );
});

async function ask(client: Client, email: string) {
  const csrf = await client.csrfFrom('/manage');
  return client.post('/manage', { _csrf: csrf, email });
}

describe('a link to manage my topics, by email', () => {
  it('is offered on the sign-up page and mails the subscriber their preferences link', async () => {
    const signup = await new Client(h.base).get('/subscribe');
    expect(mainOf(signup.html)).toContain('<a href="/manage">Email me a link to manage my topics</a>');
    const seen = h.sink.received.length;
    const known = await ask(new Client(h.base), 'Reader@Example.org');
    expect(known.res.status).toBe(200);
    const mail = await nextMailTo(h.sink, 'reader@example.org', seen);
    expect(mail.parsed.subject).toContain('Your link to manage');
    const preferences = await new Client(h.base).get(linkIn(mail, '/preferences'));
    expect(preferences.res.status).toBe(200);
    expect(mainOf(preferences.html)).toContain('reader@example.org');
    expect(mainOf(preferences.html)).toMatch(/value="open-data"[^>]*checked/);

    // An unknown address gets the same answer, and no mail goes anywhere.
    const unknown = await ask(new Client(h.base), 'nobody@example.org');
    expect(mainOf(unknown.html)).toBe(mainOf(known.html));
    const before = h.sink.received.length;
    await ask(new Client(h.base), 'reader@example.org');
    await nextMailTo(h.sink, 'reader@example.org', before);
    expect(h.sink.received.slice(seen).some((m) => m.envelopeTo.includes('nobody@example.org'))).toBe(false);
  });

  it('says what to fix when the address is not one, and refuses a post without its form token', async () => {
    const bad = await ask(new Client(h.base), 'not an address');
    expect(bad.res.status).toBe(400);
    expect(bad.html).toContain('Enter an email address in the form name@example.org.');
    const forged = await new Client(h.base).post('/manage', { email: 'reader@example.org' });
    expect(forged.res.status).toBe(403);
  });
});

describe('an older confirmation link after a newer one was used', () => {
  it('says the address is confirmed, changes nothing, and offers the manage link by email', async () => {
    const seen = h.sink.received.length;
    await signUp(new Client(h.base), { email: 'twice@example.org', topics: ['open-data'] });
    const first = linkIn(await nextMailTo(h.sink, 'twice@example.org', seen), '/confirm');
    const between = h.sink.received.length;
    await signUp(new Client(h.base), { email: 'twice@example.org', topics: ['shared-ledgers'] });
    const second = linkIn(await nextMailTo(h.sink, 'twice@example.org', between), '/confirm');
    expect(second).not.toBe(first);
    // Confirmed with the newer link's button (opening a link confirms nothing, issue 9 item 11).
    expect((await confirmVia(new Client(h.base), second)).res.status).toBe(200);
    const older = await new Client(h.base).get(first);
    expect(older.res.status).toBe(410);
    expect(mainOf(older.html)).toContain('with this link or another one we sent you');
    expect(mainOf(older.html)).toContain('<a href="/manage">Email me a link to manage my topics</a>');
  });
});
