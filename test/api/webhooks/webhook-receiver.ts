import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

// A real HTTP receiver on loopback for webhook tests: records every request (headers and exact
// body bytes) and answers as the test says (a status, or never, to stand for a hung receiver).

export interface ReceivedHook {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  payload: { type: string; timestamp: string; data: Record<string, unknown> };
}

export type Answer = number | 'hang';

export interface WebhookReceiver {
  url: string;
  received: ReceivedHook[];
  /** Decides each answer; gets the request's index (0-based). */
  answer: (index: number, hook: ReceivedHook) => Answer;
  /** Resolves once `predicate` holds for what arrived, or fails after `ms` saying what did arrive. */
  waitFor(predicate: (received: ReceivedHook[]) => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const hung: ServerResponse[] = [];
  const waiters = new Set<() => void>();
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    answer: () => 204,
    async waitFor(predicate, ms = 20_000) {
      if (predicate(receiver.received)) return;
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!predicate(receiver.received)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `not received within ${ms} ms; got ${receiver.received.map((r) => `${r.id} ${r.payload.type}`).join(', ')}`,
            ),
          );
        }, ms);
        waiters.add(check);
      });
    },
    close: () =>
      new Promise((resolve) => {
        for (const res of hung) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const hook: ReceivedHook = {
        id: String(req.headers['webhook-id']),
        timestamp: String(req.headers['webhook-timestamp']),
        signature: String(req.headers['webhook-signature']),
        body,
        payload: JSON.parse(body) as ReceivedHook['payload'],
      };
      const answer = receiver.answer(receiver.received.length, hook);
      receiver.received.push(hook);
      for (const waiter of [...waiters]) waiter();
      if (answer === 'hang') {
        hung.push(res);
        return;
      }
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer >= 400 ? `refused with ${answer}` : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return receiver;
}

/** Checks a delivery with the Standard Webhooks library, as a receiver would. */
export function verifiedWithLibrary(secret: string, hook: ReceivedHook): unknown {
  return new Webhook(secret).verify(hook.body, {
    'webhook-id': hook.id,
    'webhook-timestamp': hook.timestamp,
    'webhook-signature': hook.signature,
  });
}

/** The README's recipe with node:crypto alone: HMAC-SHA256 of `id.timestamp.body`, base64. */
export function verifiedByRecipe(secret: string, hook: ReceivedHook, nowSeconds = Date.now() / 1000): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${hook.id}.${hook.timestamp}.${hook.body}`).digest();
  const fresh = Math.abs(nowSeconds - Number(hook.timestamp)) <= 300;
  return (
    fresh &&
    hook.signature.split(' ').some((part) => {
      const [version, signature] = part.split(',');
      const given = Buffer.from(signature ?? '', 'base64');
      return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
    })
  );
}
