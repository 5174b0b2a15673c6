import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FAILURES_PER_ACCOUNT_AND_IP,
  FAILURES_PER_IP,
  FIRST_DELAY_MS,
  PASSWORD_CHANGE_FAILURES,
} from '../../../editors/auth/login-limiter.js';
import { appUnderTest, Client, EDITOR_PASSWORD, type AppUnderTest } from '../admin-helpers.js';

// Issue 9 item 10: nobody can lock an editor out. Failures count per (account, client address)
// with a per-address ceiling and a growing delay; a post without a valid form token costs the
// account nothing; the owner from another address still signs in; the password change has a limit.
// The app trusts a proxy on loopback (src/web/server.ts), so X-Forwarded-For sets the client
// address here as a reverse proxy in front of the service does.

let t: AppUnderTest;

beforeEach(async () => {
  t = await appUnderTest({ editors: [{ email: 'ed@example.org' }] });
});
afterEach(() => t.close());

/** A browser at one client address: fetches the sign-in form (its token) and posts it. */
class Visitor extends Client {
  constructor(
    base: string,
    readonly ip: string,
  ) {
    super(base);
  }

  /** How long the form and its post took (the delay is in the post: a lower bound holds). */
  async signIn(email: string, password: string): Promise<{ status: number; ms: number; html: string }> {
    const started = performance.now();
    const res = await this.login(email, password, { 'x-forwarded-for': this.ip });
    return { status: res.status, ms: performance.now() - started, html: await res.text() };
  }
}

describe('sign-in limits', () => {
  it('bare posts naming an editor (no form token, no password) cost the account nothing', async () => {
    const attacker = new Client(t.app.url);
    for (let i = 0; i < 20; i++) {
      const res = await attacker.post('/admin/login', { email: 'ed@example.org' });
      expect(res.status).toBe(403);
    }
    // The editor signs in, even from the attacker's own address.
    expect((await new Visitor(t.app.url, '127.0.0.1').signIn('ed@example.org', EDITOR_PASSWORD)).status).toBe(303);
  });

  it('counts failures per (account, address): the attacker is refused, the owner elsewhere signs in', async () => {
    const attacker = new Visitor(t.app.url, '203.0.113.9');
    const times: number[] = [];
    for (let i = 0; i < FAILURES_PER_ACCOUNT_AND_IP; i++) {
      const attempt = await attacker.signIn('ed@example.org', `guess ${i}`);
      expect(attempt.status).toBe(401);
      times.push(attempt.ms);
    }
    // A growing delay from the third failure on: 0.5 s, 1 s, 2 s (lower bounds only; load adds to them).
    expect(times[2]).toBeGreaterThanOrEqual(FIRST_DELAY_MS - 50);
    expect(times[3]).toBeGreaterThanOrEqual(2 * FIRST_DELAY_MS - 50);
    expect(times[4]).toBeGreaterThanOrEqual(4 * FIRST_DELAY_MS - 50);
    const locked = await attacker.signIn('ed@example.org', EDITOR_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.html).toContain('Too many failed sign-ins');

    const owner = new Visitor(t.app.url, '198.51.100.4');
    expect((await owner.signIn('ed@example.org', EDITOR_PASSWORD)).status).toBe(303);
    expect((await owner.get('/admin')).status).toBe(200);
  });

  it('has a ceiling per address whatever the account, and other addresses are not affected', async () => {
    const sprayer = new Visitor(t.app.url, '203.0.113.10');
    for (let i = 0; i < FAILURES_PER_IP; i++) {
      expect((await sprayer.signIn(`nobody${i}@example.org`, 'guess')).status).toBe(401);
    }
    expect((await sprayer.signIn('ed@example.org', EDITOR_PASSWORD)).status).toBe(429);
    expect((await new Visitor(t.app.url, '198.51.100.5').signIn('ed@example.org', EDITOR_PASSWORD)).status).toBe(303);
  });
});

describe('password change limit', () => {
  it('refuses further tries after repeated wrong current passwords, changing nothing', async () => {
    const client = new Client(t.app.url);
    expect((await client.login('ed@example.org', EDITOR_PASSWORD)).status).toBe(303);
    const token = await client.csrfToken('/admin/account');
    const change = (current: string, password: string) =>
      client.post('/admin/account/password', { _csrf: token, current, password, repeat: password });
    // A too-short new password is not a guess and is not counted.
    for (let i = 0; i < PASSWORD_CHANGE_FAILURES + 2; i++)
      expect((await change(EDITOR_PASSWORD, 'short')).status).toBe(400);
    for (let i = 0; i < PASSWORD_CHANGE_FAILURES; i++) {
      expect((await change(`guess ${i}`, 'a new password 1')).status).toBe(400);
    }
    const limited = await change(EDITOR_PASSWORD, 'a new password 1');
    expect(limited.status).toBe(429);
    expect(await limited.text()).toContain('Too many wrong passwords');
    // The password is unchanged.
    expect((await new Client(t.app.url).login('ed@example.org', EDITOR_PASSWORD)).status).toBe(303);
  });
});
