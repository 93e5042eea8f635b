// The verifier in Koa, Express and plain node:http. Each adapter only translates: the request
// into a ProtectedRequest, the accepted token into the framework's request state, a TokenError
// into the answer (respond.ts). Framework types are structural, so this package depends on
// neither Koa nor Express.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AccessToken } from './access-token.ts';
import { TokenError } from './errors.ts';
import { setKoaError, writeError, type KoaContextLike } from './respond.ts';
import { requestUrl } from './urls.ts';
import type { ProtectedRequest, TokenVerifier } from './verifier.ts';
import type { AcrRequirement } from './acr.ts';

/** Where the Koa adapter puts the token (`ctx.state.accessToken`) and Express (`res.locals.accessToken`). */
export const ACCESS_TOKEN = 'accessToken';

/** `ctx.state` of a Koa route behind `rs.koa(...)`. */
export interface AccessTokenState {
  accessToken: AccessToken;
}

/** The part of an Express request the adapter reads (Express 5; structural). */
export interface ExpressRequestLike extends IncomingMessage {
  /** The request target before any router mount point was removed. */
  originalUrl: string;
  /** `http` or `https`, honouring the app's `trust proxy` setting. */
  protocol: string;
  /** host[:port] (Express 5), honouring the app's `trust proxy` setting. */
  host: string;
}

export interface ExpressResponseLike extends ServerResponse {
  locals: Record<string, unknown>;
}

export type KoaMiddleware = (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<void>;
export type ExpressMiddleware = (req: ExpressRequestLike, res: ExpressResponseLike, next: (error?: unknown) => void) => void;
/** Resolves with the token, or with undefined once the refusal has been answered. */
export type NodeGuard = (req: IncomingMessage, res: ServerResponse) => Promise<AccessToken | undefined>;

export interface GuardOptions {
  scopes: readonly string[] | undefined;
  acr?: AcrRequirement | undefined;
  onError: ((error: TokenError) => void) | undefined;
}

/** Every value of a header (Node keeps only the first Authorization header in `req.headers`). */
function headerValues(req: IncomingMessage, name: 'authorization' | 'dpop'): string | string[] | undefined {
  const all = req.headersDistinct?.[name];
  if (all) return all.length === 1 ? all[0] : all;
  return req.headers[name];
}

function protectedRequest(req: IncomingMessage, origin: string, target: string): ProtectedRequest {
  return { method: req.method ?? 'GET', url: requestUrl(origin, target), authorization: headerValues(req, 'authorization'), dpop: headerValues(req, 'dpop') };
}

/** The origin the client addressed: the configured public URL, else what the request says. */
function nodeOrigin(req: IncomingMessage): string {
  return `${(req.socket as TLSSocket).encrypted ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}`;
}

async function check(verifier: TokenVerifier, request: ProtectedRequest, options: GuardOptions): Promise<AccessToken | TokenError> {
  try {
    return await verifier.verifyRequest(request, { scopes: options.scopes, acr: options.acr });
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    options.onError?.(error);
    return error;
  }
}

export function koaGuard(verifier: TokenVerifier, options: GuardOptions): KoaMiddleware {
  const { publicOrigin } = verifier.options;
  return async function requireAccessToken(ctx, next) {
    const outcome = await check(verifier, protectedRequest(ctx.req, publicOrigin ?? `${ctx.protocol}://${ctx.host}`, ctx.originalUrl), options);
    if (outcome instanceof TokenError) return setKoaError(ctx, outcome);
    (ctx.state as Record<string, unknown>)[ACCESS_TOKEN] = outcome;
    await next();
  };
}

export function expressGuard(verifier: TokenVerifier, options: GuardOptions): ExpressMiddleware {
  const { publicOrigin } = verifier.options;
  return function requireAccessToken(req, res, next) {
    check(verifier, protectedRequest(req, publicOrigin ?? `${req.protocol}://${req.host}`, req.originalUrl), options).then((outcome) => {
      if (outcome instanceof TokenError) return writeError(res, outcome);
      res.locals[ACCESS_TOKEN] = outcome;
      next();
    }, next);
  };
}

export function nodeGuard(verifier: TokenVerifier, options: GuardOptions): NodeGuard {
  const { publicOrigin } = verifier.options;
  return async function requireAccessToken(req, res) {
    const outcome = await check(verifier, protectedRequest(req, publicOrigin ?? nodeOrigin(req), req.url ?? '/'), options);
    if (!(outcome instanceof TokenError)) return outcome;
    writeError(res, outcome);
    return undefined;
  };
}
