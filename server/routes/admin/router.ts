// Serves ADMIN_ROUTES under /admin/v1 and the OpenAPI document at /admin/openapi.json. Every
// answer is JSON (refusals through the app's one error boundary, http/error-boundary.ts): 400
// `{"error":"invalid_request","fields":{…}}` for input the schemas refuse (nothing is written
// then), 401/403 per RFC 6750, 404, 405, 409, 413, 415.
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import type { z } from 'zod';
import type Provider from 'oidc-provider';
import type { Administration } from '../../services/administration/index.ts';
import { HttpError, unreadable } from '../../http/errors.ts';
import { answerJson } from '../../http/error-boundary.ts';
import { adminResourceId, ADMIN_READ_SCOPE, ADMIN_SCOPE } from '../../services/admin-resource.ts';
import { adminAuthenticator } from './auth.ts';
import { ADMIN_ROUTES } from './table.ts';
import { adminOpenApiDocument } from './openapi.ts';

export const ADMIN_PREFIX = '/admin/v1';

function invalidInput(fields: Record<string, string>): HttpError {
  return new HttpError(400, 'invalid_request', 'the request is not valid', { extra: { fields } });
}

/** `{ "redirect_uris.0": "must be a URI …" }`: one message per field, the first one zod gives. */
function fieldsOf(error: z.ZodError, prefix?: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const name = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || prefix || 'body';
    fields[name] ??= issue.message;
  }
  return fields;
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, prefix?: string): z.output<T> | undefined {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) throw invalidInput(fieldsOf(result.error, prefix));
  return result.data;
}

/** A query string as the schemas read it: a repeated parameter is refused, not silently picked. */
function singleValued(query: Record<string, string | string[] | undefined>): Record<string, string> {
  const fields: Record<string, string> = {};
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) fields[name] = 'give this parameter once';
    else if (value !== undefined) values[name] = value;
  }
  if (Object.keys(fields).length) throw invalidInput(fields);
  return values;
}


/** The admin API as one middleware: it answers everything under its paths, and only those. */
export function adminApi({ admin, provider, issuer }: { admin: Administration; provider: Provider; issuer: string }) {
  const audience = adminResourceId(issuer);
  const metadataPath = '/.well-known/oauth-protected-resource/admin';
  const auth = adminAuthenticator({ provider, audience, resourceMetadata: `${issuer}${metadataPath}` });
  const document = adminOpenApiDocument({ issuer });
  const router = new Router();

  router.get('/admin/openapi.json', (ctx) => {
    ctx.body = document;
  });
  // RFC 9728: what a client needs to find out how to get a token for the admin API.
  router.get(metadataPath, (ctx) => {
    ctx.body = { resource: audience, authorization_servers: [issuer], scopes_supported: [ADMIN_SCOPE, ADMIN_READ_SCOPE], bearer_methods_supported: ['header'] };
  });

  const body = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8', jsonStrict: true });
  const requireJson = async (ctx: Context, next: Next) => {
    const hasBody = Boolean(ctx.request.length) || Boolean(ctx.get('transfer-encoding'));
    if (hasBody && !ctx.is('application/json')) throw unreadable(415);
    return next();
  };

  for (const definition of ADMIN_ROUTES) {
    const path = ADMIN_PREFIX + definition.path.replace(/\{(\w+)\}/g, ':$1');
    router[definition.method](path, requireJson, body, async (ctx: Context) => {
      // Authentication first: a stranger learns nothing from validation messages.
      const actor = await auth.authenticate(ctx, definition.access);
      if (!definition.query && Object.keys(ctx.query).length) throw invalidInput(Object.fromEntries(Object.keys(ctx.query).map((k) => [k, 'unknown parameter'])));
      const input = {
        params: parse(definition.params, ctx.params),
        query: parse(definition.query, singleValued(ctx.query)),
        body: parse(definition.body, definition.body ? (ctx.request.body ?? {}) : undefined),
      };
      const result = await definition.run(admin, input as never, actor);
      ctx.status = definition.status;
      if (definition.status !== 204) ctx.body = result;
    });
  }

  // One dispatch: the routes, then a 405 with Allow for a known path and another method.
  const routes = router.routes() as unknown as (ctx: Context, next: Next) => Promise<void>;
  const allowedMethods = router.allowedMethods({ throw: false }) as unknown as (ctx: Context, next: Next) => Promise<void>;
  const serves = (path: string) => path.startsWith(`${ADMIN_PREFIX}/`) || path === ADMIN_PREFIX || path === '/admin/openapi.json' || path === metadataPath;

  return async function adminApi(ctx: Context, next: Next) {
    if (!serves(ctx.path)) return next();
    answerJson(ctx);
    await allowedMethods(ctx, () => routes(ctx, async () => undefined));
  };
}
