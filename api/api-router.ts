import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import multer from 'multer';
import type { Services } from '../src/app/services.js';
import { subscriberMailFor } from '../subscribers/subscriber-mail.js';
import type { ApiKey } from './api-key-repository.js';
import { ApiKeyAuthenticator } from './api-keys.js';
import { contentRoutes, MAX_IMPORT_FILE_BYTES, MAX_IMPORT_FILES } from './content-routes.js';
import type { ApiContext } from './context.js';
import { Idempotency } from './idempotency.js';
import { issueRoutes } from './issue-routes.js';
import { buildOpenApiDocument } from './openapi.js';
import { Problem, PROBLEM_TYPES, problemTypeUri, sendProblem, type ProblemType } from './problem.js';
import type { ApiAnswer, ApiRoute } from './route.js';
import { statsRoutes } from './stats-routes.js';
import { subscriberRoutes } from './subscriber-routes.js';

// /api/v1: the document and problem types are public; everything else needs an API key with the
// route's scope. Order per request: key (401), rate limit (429), scope (403), body, validation
// (422), idempotency, handler. Mounted before the site's body parsers: it parses its own bodies.

export const API_ROUTES: readonly ApiRoute[] = [...subscriberRoutes, ...contentRoutes, ...issueRoutes, ...statsRoutes];

const BODY_LIMIT = '8mb';

export interface ApiRouterOptions {
  /** Requests per key per minute (API_RATE_LIMIT). */
  rateLimitPerMinute: number;
}

const keys = new WeakMap<Request, ApiKey>();

function requestKey(req: Request): ApiKey {
  const key = keys.get(req);
  if (!key) throw new Error('API route reached without a key (router order is wrong)');
  return key;
}

function sendAnswer(res: Response, answer: ApiAnswer): void {
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.set(name, value);
  if (answer.body === undefined) res.status(answer.status).end();
  else res.status(answer.status).json(answer.body);
}

function authenticate(authenticator: ApiKeyAuthenticator): RequestHandler {
  const messages = {
    missing:
      'Send an API key as `Authorization: Bearer <key>`; an admin makes keys in the app or with `newsletter api-keys create`.',
    unknown: 'This API key is not known; check that it was copied whole.',
    revoked: 'This API key was revoked; ask an admin for a new one.',
  };
  return (req, res, next) => {
    authenticator
      .authenticate(req.get('authorization'))
      .then((auth) => {
        if (auth.ok) {
          keys.set(req, auth.key);
          return next();
        }
        res.set('WWW-Authenticate', `Bearer realm="api", error="invalid_token"`);
        sendProblem(
          res,
          new Problem(401, 'unauthenticated', 'Not authenticated', messages[auth.reason]),
          req.originalUrl,
        );
      })
      .catch(next);
  };
}

function perKeyRateLimit(limit: number): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: 'per-key',
    keyGenerator: (req) => `key:${requestKey(req).id}`,
    handler: (req, res) => {
      sendProblem(
        res,
        new Problem(
          429,
          'rate-limited',
          'Too many requests',
          `This key may make ${limit} requests a minute; wait and retry.`,
        ),
        req.originalUrl,
      );
    },
  });
}

/** Multipart bodies of routes that take them (the import): each file part becomes `files[<field name>]`. */
function multipartBody(): RequestHandler {
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { files: MAX_IMPORT_FILES, fileSize: MAX_IMPORT_FILE_BYTES, fields: 10, fieldSize: 64 * 1024 },
  }).any();
  return (req, res, next) => {
    if (!req.is('multipart/form-data')) return next();
    upload(req, res, (error: unknown) => {
      if (error) {
        const detail = error instanceof Error ? error.message : 'The multipart body could not be read';
        return next(new Problem(400, 'bad-request', 'Multipart body refused', `${detail}.`));
      }
      const files: Record<string, string> = {};
      for (const file of (req.files as Express.Multer.File[] | undefined) ?? []) {
        files[file.fieldname] = file.buffer.toString('utf8');
      }
      const fields = req.body as Record<string, unknown>;
      const note = typeof fields.correction === 'string' ? fields.correction : undefined;
      req.body = { files, ...(note !== undefined ? { correction: { note } } : {}) };
      next();
    });
  };
}

function routeHandler(ctx: ApiContext, route: ApiRoute, idempotency: Idempotency): RequestHandler {
  return (req, res, next) => {
    const key = requestKey(req);
    if (!key.scopes.includes(route.scope)) {
      res.set('WWW-Authenticate', `Bearer realm="api", error="insufficient_scope", scope="${route.scope}"`);
      return sendProblem(
        res,
        new Problem(403, 'forbidden', 'Missing scope', `This route needs an API key with the scope ${route.scope}.`, {
          scope: route.scope,
        }),
        req.originalUrl,
      );
    }
    const idempotencyKey = route.method === 'post' ? req.get('idempotency-key') : undefined;
    const run = () => route.run(ctx, req, key);
    const answer =
      idempotencyKey === undefined
        ? run()
        : idempotencyKeyValid(idempotencyKey).then(() =>
            idempotency.run(
              {
                apiKeyId: key.id,
                key: idempotencyKey,
                request: { method: req.method, path: req.originalUrl, body: req.body as unknown },
              },
              run,
            ),
          );
    answer.then((a) => sendAnswer(res, a)).catch(next);
  };
}

async function idempotencyKeyValid(key: string): Promise<void> {
  if (key.length === 0 || key.length > 255) {
    throw new Problem(422, 'validation', 'Invalid request', 'Idempotency-Key: 1 to 255 characters', {
      errors: [{ field: 'header.Idempotency-Key', message: '1 to 255 characters' }],
    });
  }
  return Promise.resolve();
}

function problemFrom(error: unknown): Problem | undefined {
  if (error instanceof Problem) return error;
  const httpError = error as { type?: string; status?: number; message?: string };
  if (httpError.type === 'entity.parse.failed') {
    return new Problem(
      400,
      'bad-request',
      'Body is not JSON',
      `The body could not be read as JSON: ${httpError.message ?? ''}`,
    );
  }
  if (httpError.type === 'entity.too.large') {
    return new Problem(413, 'payload-too-large', 'Body too large', `The body is larger than ${BODY_LIMIT}.`);
  }
  if (typeof httpError.status === 'number' && httpError.status >= 400 && httpError.status < 500) {
    return new Problem(
      httpError.status,
      'bad-request',
      'Bad request',
      httpError.message ?? 'The request could not be read.',
    );
  }
  return undefined;
}

export function createApiRouter(services: Services, options: ApiRouterOptions): Router {
  const { logger } = services;
  const ctx: ApiContext = {
    services,
    signup: {
      services,
      mail: subscriberMailFor(services),
      sendInBackground(what, work) {
        work().catch((error: unknown) => logger.error({ err: error }, `sending the ${what} failed`));
      },
    },
  };
  const authenticator = new ApiKeyAuthenticator({ db: services.db });
  const idempotency = new Idempotency({ db: services.db });
  const document = buildOpenApiDocument(API_ROUTES, services.config.baseUrl);

  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  router.get('/problems/:type', (req, res) => {
    const type = req.params.type as ProblemType;
    if (!Object.hasOwn(PROBLEM_TYPES, type)) return sendProblem(res, notFoundProblem(), req.originalUrl);
    res.json({ type: problemTypeUri(type), description: PROBLEM_TYPES[type] });
  });

  router.use(authenticate(authenticator));
  router.use(perKeyRateLimit(options.rateLimitPerMinute));
  router.use(express.json({ limit: BODY_LIMIT, type: ['application/json', 'application/*+json'] }));

  const methodsByPath = new Map<string, string[]>();
  for (const route of API_ROUTES) {
    const handlers: RequestHandler[] = route.acceptsMultipart ? [multipartBody()] : [];
    router[route.method](route.expressPath, ...handlers, routeHandler(ctx, route, idempotency));
    methodsByPath.set(route.expressPath, [...(methodsByPath.get(route.expressPath) ?? []), route.method.toUpperCase()]);
  }
  for (const [path, methods] of methodsByPath) {
    router.all(path, (req, res) => {
      res.set('Allow', methods.join(', '));
      sendProblem(
        res,
        new Problem(
          405,
          'method-not-allowed',
          'Method not allowed',
          `${req.method} is not answered here; use ${methods.join(' or ')}.`,
        ),
        req.originalUrl,
      );
    });
  }
  router.use((req, res) => sendProblem(res, notFoundProblem(), req.originalUrl));

  const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    const problem = problemFrom(error);
    if (problem) return sendProblem(res, problem, req.originalUrl);
    logger.error({ err: error }, 'API request failed');
    sendProblem(
      res,
      new Problem(500, 'internal', 'Internal error', 'Something went wrong on our side; it has been logged.'),
      req.originalUrl,
    );
  };
  router.use(onError);
  return router;
}

function notFoundProblem(): Problem {
  return new Problem(404, 'not-found', 'Not found', 'There is no API route at this address; see /api/v1/openapi.json.');
}
