import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { runCli } from '../helpers/cli.js';
import { ensureFirstAdmin, FIRST_ADMIN_EMAIL } from '../../editors/bootstrap.js';
import { findEditorByEmail, listEditors } from '../../editors/editor-repository.js';
import { verifyPassword } from '../../editors/auth/passwords.js';

function sinkStream(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk: Buffer | string, _e, cb) {
        text += chunk.toString();
        cb();
      },
    }),
    text: () => text,
  };
}

describe('`newsletter editors` and the first admin', () => {
  let env: TempEnv;
  beforeEach(() => {
    env = makeTempEnv();
  });
  afterEach(() => env.cleanup());

  it('adds an editor with the password read from stdin, hashed with scrypt', async () => {
    const run = await runCli(
      ['editors', 'add', 'Ana@Example.org', '--role', 'admin'],
      env.env,
      'a long enough password\n',
    );
    expect(run).toMatchObject({ code: 0, stdout: 'Created admin ana@example.org\n' });
    const services = await env.open();
    try {
      const editor = await findEditorByEmail(services.db, 'ana@example.org');
      expect(editor?.role).toBe('admin');
      expect(editor?.passwordHash).toMatch(/^scrypt\$16384\$8\$1\$/);
      expect(await verifyPassword('a long enough password', editor?.passwordHash ?? '')).toBe(true);
    } finally {
      await services.close();
    }
    const again = await runCli(['editors', 'add', 'ana@example.org'], env.env, 'another password\n');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('ana@example.org is already an editor');
    const list = await runCli(['editors', 'list'], env.env);
    expect(list.stdout).toBe('ana@example.org\tadmin\n');
  });

  it('refuses a bad role, a bad address, a missing and a short password with what to fix', async () => {
    expect(
      (await runCli(['editors', 'add', 'b@example.org', '--role', 'owner'], env.env, 'long password 1\n')).stderr,
    ).toContain('--role must be admin or editor');
    expect((await runCli(['editors', 'add', 'nope'], env.env, 'long password 1\n')).stderr).toContain(
      '"nope" is not an email address',
    );
    const missing = await runCli(['editors', 'add', 'b@example.org'], env.env, '');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No password on stdin');
    expect((await runCli(['editors', 'add', 'b@example.org'], env.env, 'short\n')).stderr).toContain(
      'at least 10 characters',
    );
  });

  it('creates admin@localhost once on an empty database and prints its password only that time', async () => {
    const services = await env.open();
    try {
      const first = sinkStream();
      await ensureFirstAdmin(services, first.stream);
      const password = /password: (\S+)/.exec(first.text())?.[1] ?? '';
      expect(first.text()).toContain(`email:    ${FIRST_ADMIN_EMAIL}`);
      expect(first.text()).toContain('shown only this once');
      const stored = await findEditorByEmail(services.db, FIRST_ADMIN_EMAIL);
      expect(stored?.role).toBe('admin');
      expect(stored?.passwordHash).not.toContain(password);
      expect(await verifyPassword(password, stored?.passwordHash ?? '')).toBe(true);
      const second = sinkStream();
      await ensureFirstAdmin(services, second.stream);
      expect(second.text()).toBe('');
      expect(await listEditors(services.db)).toHaveLength(1);
    } finally {
      await services.close();
    }
  });

  it('does not create a first admin when an editor exists', async () => {
    await runCli(['editors', 'add', 'ana@example.org'], env.env, 'a long enough password\n');
    const services = await env.open();
    try {
      const out = sinkStream();
      await ensureFirstAdmin(services, out.stream);
      expect(out.text()).toBe('');
      expect((await listEditors(services.db)).map((e) => e.email)).toEqual(['ana@example.org']);
    } finally {
      await services.close();
    }
  });
});
