import { describe, expect, it } from 'vitest';
import { eventually } from './eventually.js';

describe('eventually', () => {
  it('returns the first value that is not "not yet" (undefined, null, false)', async () => {
    const answers: unknown[] = [undefined, null, false, 0];
    const value = await eventually('a number', () => answers.shift(), { intervalMs: 1 });
    expect(value).toBe(0);
    expect(answers).toEqual([]);
  });

  it('with `holds`, returns the value it judges done', async () => {
    let polls = 0;
    const value = await eventually('three polls', () => ++polls, { holds: (n) => n === 3, intervalMs: 1 });
    expect(value).toBe(3);
  });

  it('fails past the deadline, naming what it awaited and the last value seen', async () => {
    let polls = 0;
    await expect(
      eventually('the send to finish', () => ({ status: 'sending', polls: ++polls }), {
        holds: (s) => s.status === 'sent',
        timeoutMs: 30,
        intervalMs: 5,
      }),
    ).rejects.toThrow(
      /^timed out after 30 ms waiting for the send to finish; last value seen: \{ status: 'sending', polls: \d+ \}$/,
    );
    expect(polls).toBeGreaterThan(1);
  });

  it('reads a lazy description only when it fails', async () => {
    let log = 'starting';
    await expect(
      eventually(
        () => `the server to listen:\n${log}`,
        () => (log += '.') && false,
        { timeoutMs: 10, intervalMs: 2 },
      ),
    ).rejects.toThrow(/waiting for the server to listen:\nstarting\.+; last value seen: false$/);
  });

  it('ends the wait at once when the probe throws', async () => {
    let polls = 0;
    await expect(
      eventually('a port', () => {
        polls++;
        throw new Error('the process exited');
      }),
    ).rejects.toThrow('the process exited');
    expect(polls).toBe(1);
  });
});
