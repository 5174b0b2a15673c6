import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { expect } from 'vitest';

// Checks real answers of /api/v1 against its own OpenAPI document: the status must be one the
// operation documents, and the body must match the schema documented for that status and media
// type (Ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses). Records which operations were answered, so a
// test can assert that every documented operation was exercised.

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

interface MediaType {
  schema?: object;
}
interface ResponseDoc {
  content?: Record<string, MediaType>;
  headers?: Record<string, unknown>;
}
interface OperationDoc {
  operationId: string;
  responses: Record<string, ResponseDoc>;
}
export interface DereferencedDocument {
  paths: Record<string, Record<string, OperationDoc>>;
}

export class OpenApiChecker {
  private readonly ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
  private readonly compiled = new Map<object, ValidateFunction>();
  readonly answered = new Set<string>();

  constructor(private readonly doc: DereferencedDocument) {}

  private operationFor(method: string, path: string): { key: string; op: OperationDoc } {
    const pathname = new URL(path, 'http://x').pathname.replace(/^\/api\/v1/, '');
    for (const [template, item] of Object.entries(this.doc.paths)) {
      const pattern = new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`);
      const op = item[method.toLowerCase()];
      if (op && pattern.test(pathname)) return { key: `${method.toUpperCase()} ${template}`, op };
    }
    throw new Error(`${method} ${pathname} is not in the OpenAPI document`);
  }

  /** Asserts the answer is documented; returns the parsed body (undefined when empty). */
  async check(method: string, path: string, res: Response): Promise<unknown> {
    const { key, op } = this.operationFor(method, path);
    const text = await res.text();
    const documented = op.responses[String(res.status)];
    expect(documented, `${key} answered ${res.status}, which the document does not list: ${text}`).toBeDefined();
    this.answered.add(`${key} ${res.status}`);
    if (text === '') {
      expect(documented?.content, `${key} ${res.status} has an empty body but documents content`).toBeUndefined();
      return undefined;
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0] ?? '';
    const schema = documented?.content?.[type]?.schema;
    expect(schema, `${key} ${res.status} answered ${type}, not documented`).toBeDefined();
    const body: unknown = JSON.parse(text);
    let validate = this.compiled.get(schema as object);
    if (!validate) {
      validate = this.ajv.compile(schema as object);
      this.compiled.set(schema as object, validate);
    }
    const valid = validate(body);
    expect(
      valid,
      `${key} ${res.status} body does not match its schema: ${this.ajv.errorsText(validate.errors)}\n${text}`,
    ).toBe(true);
    if (res.status < 400 && documented?.headers && 'RateLimit' in documented.headers) {
      expect(res.headers.get('ratelimit'), `${key}: RateLimit header`).toMatch(/r=\d+/);
    }
    return body;
  }

  operations(): string[] {
    return Object.entries(this.doc.paths).flatMap(([template, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${template}`),
    );
  }

  /** Operations never answered with a success status. */
  unansweredSuccesses(): string[] {
    return this.operations().filter((op) => ![...this.answered].some((a) => a.startsWith(`${op} 2`)));
  }
}
