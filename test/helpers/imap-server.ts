import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually.js';

// A real IMAP server on loopback for the tests: Debian's Dovecot (package dovecot-imapd, which
// .ci/run installs), started with a configuration of its own in a temporary folder, one user, plain
// IMAP on 127.0.0.1 (no TLS on loopback), Maildir storage. Nothing of the machine's own Dovecot
// configuration is read or touched.

const DOVECOT = ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot'].find((p) => existsSync(p));

export interface ImapTestServer {
  port: number;
  user: string;
  password: string;
  /** `imap://user:password@127.0.0.1:port/INBOX` */
  url: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

async function waitForGreeting(port: number, child: ChildProcess, log: string): Promise<void> {
  await eventually(`dovecot to greet on port ${port}`, async () => {
    if (child.exitCode !== null) {
      throw new Error(`dovecot exited (${child.exitCode}): ${existsSync(log) ? readFileSync(log, 'utf8') : ''}`);
    }
    return new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('* OK'));
      });
      socket.once('error', () => resolve(false));
    });
  });
}

/** Starts Dovecot on a free loopback port with one mailbox user. */
export async function startImapServer(
  user = 'bounces@example.org',
  password = 'bounce-box-secret',
): Promise<ImapTestServer> {
  if (!DOVECOT) throw new Error('Dovecot is not installed: apt-get install dovecot-imapd');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-imap-'));
  chmodSync(dir, 0o755);
  for (const sub of ['run', 'state', 'home']) mkdirSync(path.join(dir, sub));
  const port = await freePort();
  const log = path.join(dir, 'dovecot.log');
  // As root, mail is stored as `nobody`; as anyone else, Dovecot runs entirely as that user.
  const root = process.getuid?.() === 0;
  const uid = root ? 65534 : (process.getuid?.() ?? 0);
  const gid = root ? 65534 : (process.getgid?.() ?? 0);
  if (root) chownSync(path.join(dir, 'home'), uid, gid);
  const me = os.userInfo().username;
  writeFileSync(path.join(dir, 'users'), `${user}:{PLAIN}${password}\n`);
  writeFileSync(
    path.join(dir, 'dovecot.conf'),
    [
      'protocols = imap',
      'listen = 127.0.0.1',
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${log}`,
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain login',
      ...(root
        ? []
        : [`default_internal_user = ${me}`, `default_login_user = ${me}`, `default_internal_group = ${me}`]),
      'passdb {',
      '  driver = passwd-file',
      `  args = scheme=PLAIN username_format=%u ${dir}/users`,
      '}',
      'userdb {',
      '  driver = static',
      `  args = uid=${uid} gid=${gid} home=${dir}/home/%u`,
      '}',
      'mail_location = maildir:~/Maildir',
      'namespace inbox {',
      '  inbox = yes',
      '  separator = /',
      '}',
      'service imap-login {',
      '  inet_listener imap {',
      '    address = 127.0.0.1',
      `    port = ${port}`,
      '  }',
      '  inet_listener imaps {',
      '    port = 0',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const child = spawn(DOVECOT, ['-F', '-c', path.join(dir, 'dovecot.conf')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForGreeting(port, child, log);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    user,
    password,
    url: `imap://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/INBOX`,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
