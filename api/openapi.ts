import { createDocument } from 'zod-openapi';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import type { ApiRoute } from './route.js';
import { API_SCOPES } from './scopes.js';

// The OpenAPI 3.1 document of /api/v1, generated from the routes' own zod schemas (zod-openapi), so
// what the document promises is what the router checks.

export const API_VERSION = '1.0.0';

export function buildOpenApiDocument(
  routes: readonly ApiRoute[],
  serverUrl: string,
): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    const item = (paths[route.path] ??= {});
    item[route.method] = route.operation;
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Newsletter API',
      version: API_VERSION,
      description:
        'Subscribers, content, issues and counts of this publication. Authenticate with an API key made by an ' +
        'admin (`Authorization: Bearer nlk_…`); each route needs one scope. Errors are RFC 9457 problem details. ' +
        "POSTs accept an `Idempotency-Key`; every answer carries the key's `RateLimit` and `RateLimit-Policy`.",
    },
    servers: [{ url: `${serverUrl}/api/v1` }],
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: `An API key. Scopes: ${API_SCOPES.join(', ')}.`,
        },
      },
    },
    paths,
  });
}
