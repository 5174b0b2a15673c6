import type { Request } from 'express';
import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiResponsesObject } from 'zod-openapi';
import type { ApiKey } from './api-key-repository.js';
import type { ApiContext } from './context.js';
import { fieldProblems, problemSchema, validationProblem, type FieldProblem } from './problem.js';
import type { ApiScope } from './scopes.js';

// One route of /api/v1, declared once: the router validates requests with its zod schemas and
// the OpenAPI document is generated from the same schemas (openapi.ts), so the two cannot differ.

export type HttpMethod = 'get' | 'post' | 'patch' | 'delete';

/** What a handler answers: a status and a JSON body (none for 204), plus headers such as Location. */
export interface ApiAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  key: ApiKey;
  req: Request;
}

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
}

const EMPTY = z.object({});
type Empty = typeof EMPTY;

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: HttpMethod;
  /** OpenAPI form: `/subscribers/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  scope: ApiScope;
  params?: P;
  query?: Q;
  body?: B;
  /** Also accepted as multipart/form-data with this schema (the router turns it into `body`). */
  multipartBody?: z.ZodType;
  responses: Record<number, ResponseSpec>;
  handler(ctx: ApiContext, input: ApiInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<ApiAnswer>;
}

/** A declared route with its types erased: what the router and the document generator use. */
export interface ApiRoute {
  method: HttpMethod;
  path: string;
  /** Express form: `/subscribers/:id`. */
  expressPath: string;
  scope: ApiScope;
  acceptsMultipart: boolean;
  operation: ZodOpenApiOperationObject;
  run(ctx: ApiContext, req: Request, key: ApiKey): Promise<ApiAnswer>;
}

function parsePart<T extends z.ZodType>(schema: T, value: unknown, part: string, problems: FieldProblem[]) {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  problems.push(...fieldProblems(part, result.error));
  return undefined;
}

const problemContent = { 'application/problem+json': { schema: problemSchema } };

const rateLimitHeaders = z.object({
  RateLimit: z.string().meta({ description: 'Requests left in the window and seconds until it resets (IETF draft 8)' }),
  'RateLimit-Policy': z.string().meta({ description: "The key's limit: requests per window" }),
});

/** Answers every route can give besides its own. */
function commonResponses(spec: {
  method: HttpMethod;
  responses: Record<number, ResponseSpec>;
}): ZodOpenApiResponsesObject {
  const common: Record<number, string> = {
    401: 'No API key, an unknown key or a revoked key',
    403: 'The key lacks the scope this route needs',
    422: 'A parameter or a body field is invalid (each one is listed in `errors`)',
    429: 'Too many requests with this key',
  };
  if (spec.method === 'post') common[409] ??= 'The Idempotency-Key was used with another request or is in use';
  const out: ZodOpenApiResponsesObject = {};
  for (const [status, description] of Object.entries(common)) {
    if (spec.responses[Number(status)]) continue;
    out[status as `4${string}`] = { description, content: problemContent };
  }
  return out;
}

export function defineRoute<P extends z.ZodType = Empty, Q extends z.ZodType = Empty, B extends z.ZodType = Empty>(
  spec: RouteSpec<P, Q, B>,
): ApiRoute {
  const responses: ZodOpenApiResponsesObject = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    const isError = Number(status) >= 400;
    const content = response.schema
      ? { [isError ? 'application/problem+json' : 'application/json']: { schema: response.schema } }
      : isError
        ? problemContent
        : undefined;
    responses[status as `2${string}`] = {
      description: response.description,
      ...(content ? { content } : {}),
      ...(isError ? {} : { headers: rateLimitHeaders }),
    };
  }
  const headerParams = spec.method === 'post' ? z.object({ 'Idempotency-Key': idempotencyKeyHeader }) : undefined;
  const operation: ZodOpenApiOperationObject = {
    operationId: spec.operationId,
    summary: spec.summary,
    description: `${spec.description ? `${spec.description}\n\n` : ''}Scope: \`${spec.scope}\`.`,
    tags: [spec.tag],
    security: [{ apiKey: [spec.scope] }],
    requestParams: {
      ...(spec.params ? { path: spec.params as z.ZodType<unknown, Record<string, unknown>> } : {}),
      ...(spec.query ? { query: spec.query as z.ZodType<unknown, Record<string, unknown>> } : {}),
      ...(headerParams ? { header: headerParams } : {}),
    },
    ...(spec.body
      ? {
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: spec.body },
              ...(spec.multipartBody ? { 'multipart/form-data': { schema: spec.multipartBody } } : {}),
            },
          },
        }
      : {}),
    responses: { ...responses, ...commonResponses(spec) },
  };

  return {
    method: spec.method,
    path: spec.path,
    expressPath: spec.path.replace(/\{(\w+)\}/g, ':$1'),
    scope: spec.scope,
    acceptsMultipart: spec.multipartBody !== undefined,
    operation,
    async run(ctx, req, key) {
      const problems: FieldProblem[] = [];
      const params = parsePart(spec.params ?? EMPTY, req.params, 'params', problems);
      const query = parsePart(spec.query ?? EMPTY, req.query, 'query', problems);
      const body = spec.body ? parsePart(spec.body, req.body, 'body', problems) : {};
      if (problems.length > 0) throw validationProblem(problems);
      return spec.handler(ctx, {
        params: params as z.output<P>,
        query: query as z.output<Q>,
        body: body as z.output<B>,
        key,
        req,
      });
    },
  };
}

export const idempotencyKeyHeader = z
  .string()
  .min(1)
  .max(255)
  .optional()
  .meta({
    description:
      'Any unique text (a UUID): a POST repeated with the same key within 24 hours gets the first answer again ' +
      'instead of acting twice.',
  });
