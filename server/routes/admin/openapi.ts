// The admin API's OpenAPI 3.1 document, generated from the route table and the very schemas that
// validate requests (zod-to-openapi), so it describes exactly what the router accepts and answers.
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import { ErrorBody } from '../../services/administration/schemas.ts';
import { ADMIN_READ_SCOPE, ADMIN_SCOPE, adminResourceId } from '../../services/admin-resource.ts';
import { ADMIN_ROUTES } from './table.ts';

const ERROR_WORDS: Record<number, string> = {
  400: 'The input was refused: `fields` says what is wrong with which field. Nothing was written.',
  401: 'No valid admin access token (RFC 6750 invalid_token).',
  403: 'The token lacks the scope this route needs (RFC 6750 insufficient_scope).',
  404: 'No such thing.',
  409: 'It already exists.',
  413: 'The body is larger than 64 KiB.',
  415: 'The body is not application/json.',
};

const json = (schema: z.ZodType) => ({ 'application/json': { schema } });

export function adminOpenApiDocument({ issuer }: { issuer: string }) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'adminToken', {
    type: 'oauth2',
    description: `A client-credentials access token for the audience ${adminResourceId(issuer)} (send resource=${adminResourceId(issuer)} with the token request), from a client made with \`latchkey client add --admin\`.`,
    flows: {
      clientCredentials: {
        tokenUrl: `${issuer}/token`,
        scopes: { [ADMIN_SCOPE]: 'Every admin route', [ADMIN_READ_SCOPE]: 'The GET routes only' },
      },
    },
  });

  for (const route of ADMIN_ROUTES) {
    const errors = [400, 401, 403, ...(route.refusals ?? []), ...(route.body ? [413, 415] : [])];
    registry.registerPath({
      method: route.method,
      path: `/admin/v1${route.path}`,
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      security: [{ adminToken: route.access === 'read' ? [ADMIN_READ_SCOPE] : [ADMIN_SCOPE] }],
      request: {
        ...(route.params ? { params: route.params as z.ZodObject } : {}),
        ...(route.query ? { query: route.query as z.ZodObject } : {}),
        ...(route.body ? { body: { required: true, content: json(route.body) } } : {}),
      },
      responses: {
        [route.status]: route.response ? { description: 'Done', content: json(route.response) } : { description: 'Done' },
        ...Object.fromEntries(errors.map((status) => [status, { description: ERROR_WORDS[status] ?? 'Refused', content: json(ErrorBody) }])),
      },
    });
  }

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Latchkey admin API',
      version: '1',
      description: 'Manage users, clients, resource servers, grants, keys and the audit trail. The CLI (`latchkey`) calls the same operations.',
    },
    servers: [{ url: issuer }],
  });
}
