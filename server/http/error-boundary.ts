// The one place our routes' failures become responses. An HttpError (http/errors.ts) answers with
// its status: JSON `{ error, error_description, … }` to API callers (routes that set
// `ctx.state.json`, and clients that prefer JSON to HTML), our error page otherwise. A service's
// refusal maps to 400/404/409; a request Koa could not read to its 4xx; anything else is logged
// with its stack and answers a plain 500. A route that matched nothing is our 404; a method a
// router's path does not have, our 405. The provider's own errors never reach here (its handler
// and renderError answer them, oidc/pages.ts).
import type { Context, Next } from 'koa';
import type { Views } from './views.ts';
import type { Logger } from '../log.ts';
import { ServiceError } from '../services/errors.ts';
import { requestIdOf } from './request-context.ts';
import { fromServiceError, HttpError, methodNotAllowed, notFound, serverError, unreadable } from './errors.ts';

/** Routes that always answer JSON (the admin API, metrics) say so before they run. */
export function answerJson(ctx: Context): void {
  ctx.state.json = true;
}

export interface ErrorBoundaryOptions {
  views: Views;
  log: Logger;
  routeOf: (ctx: Context) => string;
  /** Path prefixes that are APIs throughout: JSON even for failures before their routes run (a 405 for TRACE). */
  jsonUnder?: readonly string[];
}

export function errorBoundary({ views, log, routeOf, jsonUnder = [] }: ErrorBoundaryOptions) {
  /** API routes say so; elsewhere (our pages) JSON only for a client that prefers it to HTML. */
  function wantsJson(ctx: Context): boolean {
    if (ctx.state.json === true) return true;
    if (jsonUnder.some((prefix) => ctx.path === prefix || ctx.path.startsWith(`${prefix}/`))) return true;
    return ctx.accepts('html', 'json') === 'json';
  }

  function asHttpError(ctx: Context, error: unknown): HttpError {
    if (error instanceof HttpError) return error;
    if (error instanceof ServiceError) return fromServiceError(error);
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) return unreadable(status);
    log.error('unhandled error', error, { requestId: requestIdOf(ctx), method: ctx.method, route: routeOf(ctx) });
    return serverError();
  }

  async function respond(ctx: Context, error: HttpError): Promise<void> {
    for (const [name, value] of Object.entries(error.options.headers ?? {})) ctx.set(name, value);
    if (wantsJson(ctx)) {
      ctx.status = error.status;
      ctx.body = { error: error.error, error_description: error.options.description ?? error.explanation, ...error.options.extra };
      return;
    }
    await views.respond(
      ctx,
      'error',
      { title: error.options.title ?? 'Request not accepted', error: error.error, explanation: error.explanation, description: error.options.description },
      error.status,
    );
  }

  return async function boundary(ctx: Context, next: Next) {
    try {
      await next();
      // Nothing answered: our 404; a router's 405 (it set Allow) without a body: ours.
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) await respond(ctx, notFound());
        else if (ctx.status === 405) await respond(ctx, methodNotAllowed(String(ctx.response.get('Allow') || 'GET')));
      }
    } catch (error) {
      await respond(ctx, asHttpError(ctx, error));
    }
  };
}
