import type { Response } from 'express';
import { z } from 'zod';

// Errors of the JSON API as RFC 9457 problem details (`application/problem+json`). Each kind of
// problem has a stable `type` URI under /api/v1/problems/ that names it; `detail` says what to fix.

export const PROBLEM_TYPES = {
  'bad-request': 'The request could not be read (body not JSON, or a multipart body that broke a limit).',
  validation: 'A field of the request is missing or invalid; `errors` lists each field and what to fix.',
  unauthenticated: 'No API key, an unknown one, or a revoked one was sent in `Authorization: Bearer <key>`.',
  forbidden: 'The API key lacks the scope the route needs; `scope` names it.',
  'not-found': 'The thing named in the path does not exist.',
  'method-not-allowed': 'The path exists but not with this method.',
  conflict: 'The request conflicts with the current state (an address already subscribed, an issue already sent).',
  'idempotency-conflict': 'The Idempotency-Key was used before with another request, or that request is still running.',
  'import-invalid': 'An imported file is invalid; `file`, `field` and `reason` name the fault. Nothing was written.',
  'rate-limited': 'Too many requests with this key; wait as long as the Retry-After and RateLimit headers say.',
  'payload-too-large': 'The body is larger than the route accepts.',
  internal: 'Something went wrong on our side; it has been logged. The request may be retried.',
} as const;

export type ProblemType = keyof typeof PROBLEM_TYPES;

export const problemTypeUri = (type: ProblemType): string => `/api/v1/problems/${type}`;

export interface FieldProblem {
  /** JSON Pointer-like dotted path of the field (`body.topics.0`). */
  field: string;
  message: string;
}

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly type: ProblemType,
    readonly title: string,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
  }

  toJSON(instance?: string): Record<string, unknown> {
    return {
      type: problemTypeUri(this.type),
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(instance ? { instance } : {}),
      ...this.extensions,
    };
  }
}

export const notFound = (what: string): Problem =>
  new Problem(404, 'not-found', 'Not found', `${what} does not exist.`);

export const conflict = (detail: string, extensions: Record<string, unknown> = {}): Problem =>
  new Problem(409, 'conflict', 'Conflict', detail, extensions);

export function validationProblem(errors: FieldProblem[]): Problem {
  const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  return new Problem(422, 'validation', 'Invalid request', detail, { errors });
}

/** The zod issues of one part of the request (`params`, `query`, `body`) as field problems. */
export function fieldProblems(part: string, error: z.ZodError): FieldProblem[] {
  return error.issues.map((issue) => ({
    field: [part, ...issue.path.map(String)].join('.'),
    message: issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message,
  }));
}

export function sendProblem(res: Response, problem: Problem, instance: string): void {
  res
    .status(problem.status)
    .type('application/problem+json')
    .send(JSON.stringify(problem.toJSON(instance)));
}

/** The schema of every error answer, for the OpenAPI document. */
export const problemSchema = z
  .object({
    type: z.string().meta({ description: 'URI naming the kind of problem', example: problemTypeUri('validation') }),
    title: z.string(),
    status: z.int(),
    detail: z.string().meta({ description: 'What went wrong and what to fix' }),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    scope: z.string().optional(),
    file: z.string().optional(),
    field: z.string().nullable().optional(),
    reason: z.string().optional(),
  })
  .loose()
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });
