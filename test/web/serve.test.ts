import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildServer, type ChildServer } from '../helpers/child-server.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

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

  it('listens on 127.0.0.1 only by default, and stops cleanly on SIGTERM', async () => {
    expect(server.url).toMatch(/^http:\/\/localhost:\d+$/);
    const port = new URL(server.url).port;
    const ipv4 = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(ipv4.status).toBe(200);
    expect(await server.stop('SIGTERM')).toBe(0);
  });
});
