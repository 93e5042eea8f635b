// Serves ADMIN_ROUTES under /admin/v1 and the OpenAPI document at /admin/openapi.json. Every
// answer is JSON: 400 `{"error":"invalid_request","fields":{…}}` for input the schemas refuse
// (nothing is written then), 401/403 per RFC 6750, 404, 405, 409, 413, 415. Its own error
// boundary: nothing here falls through to the HTML error pages.
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import type { z } from 'zod';
import type Provider from 'oidc-provider';
import type { Administration } from '../../services/administration/index.ts';
import { ServiceError } from '../../services/errors.ts';
import type { Logger } from '../../log.ts';
import { requestIdOf } from '../../http/request-context.ts';
import { adminResourceId, ADMIN_READ_SCOPE, ADMIN_SCOPE } from '../../services/admin-resource.ts';
import { adminAuthenticator, AdminAuthError } from './auth.ts';
import { ADMIN_ROUTES } from './table.ts';
import { adminOpenApiDocument } from './openapi.ts';

export const ADMIN_PREFIX = '/admin/v1';

class InvalidInput extends Error {
  constructor(readonly fields: Record<string, string>) {
    super('the request is not valid');
  }
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
  if (!result.success) throw new InvalidInput(fieldsOf(result.error, prefix));
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
  if (Object.keys(fields).length) throw new InvalidInput(fields);
  return values;
}

function respondError(ctx: Context, status: number, body: Record<string, unknown>) {
  ctx.status = status;
  ctx.body = body;
}

/** The admin API as one middleware: it answers everything under its paths, and only those. */
export function adminApi({ admin, provider, issuer, log }: { admin: Administration; provider: Provider; issuer: string; log: Logger }) {
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
    if (hasBody && !ctx.is('application/json')) throw Object.assign(new Error('unsupported media type'), { status: 415 });
    return next();
  };

  for (const definition of ADMIN_ROUTES) {
    const path = ADMIN_PREFIX + definition.path.replace(/\{(\w+)\}/g, ':$1');
    router[definition.method](path, requireJson, body, async (ctx: Context) => {
      // Authentication first: a stranger learns nothing from validation messages.
      const actor = await auth.authenticate(ctx, definition.access);
      if (!definition.query && Object.keys(ctx.query).length) throw new InvalidInput(Object.fromEntries(Object.keys(ctx.query).map((k) => [k, 'unknown parameter'])));
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

  return async function adminApiBoundary(ctx: Context, next: Next) {
    if (!serves(ctx.path)) return next();
    try {
      await allowedMethods(ctx, () => routes(ctx, async () => undefined));
      if (ctx.status === 405) respondError(ctx, 405, { error: 'invalid_request', error_description: `${ctx.method} is not allowed here` });
      else if (ctx.status === 404 && ctx.body === undefined) respondError(ctx, 404, { error: 'not_found', error_description: 'no such admin API route' });
    } catch (error) {
      if (error instanceof AdminAuthError) {
        ctx.set('WWW-Authenticate', auth.challenge(error));
        return respondError(ctx, error.status, { error: error.error, error_description: error.message });
      }
      if (error instanceof InvalidInput) return respondError(ctx, 400, { error: 'invalid_request', error_description: error.message, fields: error.fields });
      if (error instanceof ServiceError) {
        const fields = error.field ? { fields: { [error.field]: error.message } } : {};
        if (error.reason === 'not_found') return respondError(ctx, 404, { error: 'not_found', error_description: error.message });
        if (error.reason === 'conflict') return respondError(ctx, 409, { error: 'conflict', error_description: error.message, ...fields });
        return respondError(ctx, 400, { error: 'invalid_request', error_description: error.message, ...fields });
      }
      const status = (error as { status?: number }).status;
      if (status === 413) return respondError(ctx, 413, { error: 'invalid_request', error_description: 'the request body is too large (64 KiB at most)' });
      if (status === 415) return respondError(ctx, 415, { error: 'invalid_request', error_description: 'send the body as application/json' });
      if (status && status >= 400 && status < 500) return respondError(ctx, 400, { error: 'invalid_request', error_description: 'the request body is not valid JSON', fields: { body: 'not valid JSON' } });
      log.error('admin API failure', error, { requestId: requestIdOf(ctx), method: ctx.method, path: ctx._matchedRoute });
      respondError(ctx, 500, { error: 'server_error', error_description: 'something went wrong on our side' });
    }
  };
}
