import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPublication, listGlossary } from '../../src/content/content-repository.js';
import { signedInEditor, type Client, type SignedIn } from './admin-helpers.js';

// Real app on loopback, real SQLite file, a signed-in admin: the admin forms take what their own
// field limits allow (which was cut at 64 kB with a bare 413), and a body over its limit comes back
// with what arrived and the limit stated.

const CJK = '标准化信息安全物联网';
const cjk = (chars: number) => CJK.repeat(Math.ceil(chars / CJK.length)).slice(0, chars);
const bodyBytes = (fields: Record<string, string>) => Buffer.byteLength(new URLSearchParams(fields).toString());

describe('admin form body limits', () => {
  let signedIn: SignedIn;
  let admin: Client;
  let token: string;
  beforeAll(async () => {
    signedIn = await signedInEditor({ role: 'admin', withLongIssue: false });
    admin = signedIn.client;
    token = await admin.csrfToken('/admin/settings');
  });
  afterAll(() => signedIn?.close());

  it('saves an 8,000-character CJK about text (72 kB as a form)', async () => {
    const fields = { _csrf: token, name: 'Newsletter 标准', publisher: '', cadence: '', contact: '', about: cjk(8000) };
    expect(bodyBytes(fields)).toBeGreaterThan(64 * 1024);
    const res = await admin.post('/admin/settings/publication', fields);
    expect(res.status).toBe(303);
    expect((await getPublication(signedIn.services.db)).aboutMarkdown).toBe(cjk(8000));
  });

  it('saves a 400-entry glossary', async () => {
    const fields: Record<string, string> = { _csrf: token, rows: '400' };
    for (let i = 0; i < 400; i++) {
      fields[`abbreviation_${i}`] = `ABBR${i}`;
      fields[`english_${i}`] = `Standardisation Administration number ${i} of the People's Republic`;
      fields[`chinese_${i}`] = cjk(12);
    }
    expect(bodyBytes(fields)).toBeGreaterThan(64 * 1024);
    const res = await admin.post('/admin/settings/glossary', fields);
    expect(res.status).toBe(303);
    const glossary = await listGlossary(signedIn.services.db);
    expect(glossary).toHaveLength(400);
    expect(glossary[399]).toMatchObject({ abbreviation: 'ABBR399', chinese: cjk(12) });
  });

  it('a form over its limit comes back with what arrived and the limit, and saves nothing', async () => {
    const before = await getPublication(signedIn.services.db);
    const res = await admin.post('/admin/settings/publication', {
      _csrf: token,
      name: 'Kept name',
      publisher: 'Kept publisher',
      cadence: '',
      contact: '',
      about: cjk(40_000),
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toMatch(
      /id="about-error">This form was larger than the \d+ kB it may hold, so only its first part arrived and nothing was saved/,
    );
    expect(html).toContain('value="Kept name"');
    expect(html).toContain('value="Kept publisher"');
    expect(await getPublication(signedIn.services.db)).toEqual(before);
  });

  it('a small form over 64 kB is refused with a message stating the limit', async () => {
    const account = await admin.post('/admin/account/password', { _csrf: token, current: 'x'.repeat(70_000) });
    expect(account.status).toBe(413);
    expect(await account.text()).toBe(
      'The form was larger than the 64 kB it may hold; nothing was saved. Go back and shorten it.',
    );
    const signup = await fetch(`${signedIn.app.url}/subscribe`, {
      method: 'POST',
      body: new URLSearchParams({ email: 'a@example.org', name: 'x'.repeat(70_000) }),
    });
    expect(signup.status).toBe(413);
    expect(await signup.text()).toMatch(/larger than the 64 kB it may hold/);
  });
});
