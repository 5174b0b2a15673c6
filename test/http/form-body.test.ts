import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formBodyCut, formCutMessage, parseFormBody } from '../../src/http/form-body.js';

let server: Server;
let url: string;
beforeAll(async () => {
  const app = express();
  app.use(parseFormBody(() => 100));
  app.post('/', (req, res) => {
    res.json({ body: req.body as unknown, cut: formBodyCut(req), message: formCutMessage(req) });
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = async (body: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
  return { status: res.status, text: await res.text() };
};

describe('parseFormBody', () => {
  it('parses a body within its limit, repeated fields as lists', async () => {
    const { text } = await post('a=1&b=%E6%A0%87&b=2&c=');
    expect(JSON.parse(text)).toEqual({ body: { a: '1', b: ['标', '2'], c: '' }, cut: null, message: null });
  });

  it('keeps the complete fields of a body over its limit, even when cut inside a %XX escape', async () => {
    const body = `_csrf=token&name=Kept1&about=${encodeURIComponent('标'.repeat(40))}`;
    const cutInside = body.slice(0, 100).endsWith('%') || /%[0-9A-F]$/.test(body.slice(0, 100));
    expect(cutInside).toBe(true);
    const parsed = JSON.parse((await post(body)).text) as { body: unknown; cut: number; message: string };
    expect(parsed.body).toEqual({ _csrf: 'token', name: 'Kept1' });
    expect(parsed.cut).toBe(100);
    expect(parsed.message).toMatch(/^This form was larger than the 100 bytes it may hold/);
  });

  it('refuses a compressed form body instead of inflating it', async () => {
    const res = await fetch(url, {
      method: 'POST',
      body: gzipSync(Buffer.from('a=1')),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' },
    });
    expect(res.status).toBe(415);
  });
});
