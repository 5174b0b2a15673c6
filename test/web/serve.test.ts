import net from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildServer, type ChildServer } from '../helpers/child-server.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

/** An IPv4 address of this machine that is not loopback (the one a neighbour would use). */
function machineAddress(): string {
  const found = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!found) throw new Error('this test needs a network interface with an IPv4 address besides loopback');
  return found.address;
}

function connect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('the embedded default (`npm start`)', () => {
  let env: TempEnv;
  let server: ChildServer;
  beforeAll(async () => {
    env = makeTempEnv();
    server = await startChildServer(env.env);
  });
  afterAll(async () => {
    await server?.stop();
    env.cleanup();
  });

  it('migrates, loads the demo issue as sent and serves its web version', async () => {
    expect(server.output()).toContain('Loaded the demo issue "welcome"');
    const page = await fetch(`${server.url}/issues/welcome`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Withdraw as Easily as You Subscribe');
    expect(html).toContain('<td lang="zh">域名密钥识别邮件</td>');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const edition = await (await fetch(`${server.url}/issues/welcome?topics=privacy`)).text();
    expect(edition).toContain('This edition holds the 1 article on');
  });

  it('answers health checks and 404s unknown issues', async () => {
    expect(await (await fetch(`${server.url}/healthz`)).text()).toBe('ok');
    expect((await fetch(`${server.url}/issues/nope`)).status).toBe(404);
  });

  it("listens on 127.0.0.1 only by default: the machine's own network address is refused", async () => {
    expect(server.url).toMatch(/^http:\/\/localhost:\d+$/);
    const port = Number(new URL(server.url).port);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const address = machineAddress();
    // Control: a listener on every interface is reachable at that address, so a refusal below is
    // the service's own binding, not a firewall.
    const control = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => control.listen(0, '0.0.0.0', resolve));
    try {
      expect(await connect(address, (control.address() as net.AddressInfo).port)).toBe('connected');
    } finally {
      await new Promise<void>((resolve) => control.close(() => resolve()));
    }
    expect(await connect(address, port)).toBe('ECONNREFUSED');
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await server.stop('SIGTERM')).toBe(0);
  });
});

describe('`npm start` with DEMO=false', () => {
  it('starts with an empty archive: no demo issue, topic or glossary row', async () => {
    const env = makeTempEnv({ DEMO: 'false' });
    const server = await startChildServer(env.env);
    try {
      expect(server.output()).not.toContain('Loaded the demo issue');
      expect((await fetch(`${server.url}/issues/welcome`)).status).toBe(404);
      expect(await (await fetch(`${server.url}/issues`)).text()).not.toContain('/issues/welcome');
      expect(await (await fetch(`${server.url}/subscribe`)).text()).not.toContain('Getting Started');
    } finally {
      await server.stop();
      env.cleanup();
    }
  });
});
