// resourceServer(): the verifier, its middleware for each framework and its metadata document
// from one set of options, for the three-line setup:
//
//   const rs = resourceServer({ issuer, resource: 'https://contacts-api.example', clientId, clientSecret });
//   app.use(rs.metadata.koa());
//   router.get('/contacts', rs.koa('contacts:read'), handler);
import type { TokenError } from './errors.ts';
import { createMetadataEndpoint, metadataDocument, type MetadataEndpoint } from './metadata.ts';
import { expressGuard, koaGuard, nodeGuard, type ExpressMiddleware, type KoaMiddleware, type NodeGuard } from './middleware.ts';
import { checkScopes, type TokenVerifierOptions } from './options.ts';
import { createTokenVerifier, type TokenVerifier } from './verifier.ts';
import { checkAcrRequirement, type AcrRequirement } from './acr.ts';

export interface ResourceServerOptions extends TokenVerifierOptions {
  /** A name for people, published as `resource_name` (RFC 9728 §2). Default: none. */
  resourceName?: string | undefined;
  /**
   * Published as `scopes_supported` (RFC 9728 §2). Default: `requiredScopes` and every scope a
   * route of this resource server names, in the order they were first named.
   */
  scopesSupported?: readonly string[] | undefined;
  /**
   * Called with each TokenError before it is answered, for logging: a 503's `cause` says what
   * failed at the authorization server (the caller is only told it was unavailable).
   */
  onError?: ((error: TokenError) => void) | undefined;
}

/**
 * What a route needs beyond scopes, given after them: `rs.koa('contacts:write', { acr:
 * 'urn:latchkey:acr:passkey' })`. A token from a weaker sign-in gets 401
 * `insufficient_user_authentication` with `acr_values` (RFC 9470).
 */
export interface RouteOptions {
  acr?: AcrRequirement | undefined;
}

type RouteArguments = Array<string | RouteOptions>;

export interface ResourceServer {
  readonly verifier: TokenVerifier;
  /** Koa middleware: the token in `ctx.state.accessToken`. No scopes given: `requiredScopes`. */
  koa(...scopes: RouteArguments): KoaMiddleware;
  /** Express middleware: the token in `res.locals.accessToken`. */
  express(...scopes: RouteArguments): ExpressMiddleware;
  /** For node:http: `const token = await guard(req, res); if (!token) return;` (the refusal is answered). */
  node(...scopes: RouteArguments): NodeGuard;
  /** The RFC 9728 document and its handlers. */
  readonly metadata: MetadataEndpoint;
}

export function resourceServer(options: ResourceServerOptions): ResourceServer {
  const verifier = createTokenVerifier(options);
  const { resourceName, onError } = options;
  const fixedScopes = options.scopesSupported === undefined ? undefined : checkScopes('scopesSupported', options.scopesSupported);
  const routeScopes = new Set(verifier.options.requiredScopes);

  function guardOptions(args: RouteArguments) {
    const scopes = args.filter((a): a is string => typeof a === 'string');
    const route = args.find((a): a is RouteOptions => typeof a === 'object' && a !== null);
    const acr = route?.acr === undefined ? undefined : checkAcrRequirement(route.acr);
    if (scopes.length === 0) return { scopes: undefined, onError, acr };
    const checked = checkScopes('route scopes', scopes);
    for (const scope of checked) routeScopes.add(scope);
    return { scopes: checked, onError, acr };
  }

  return {
    verifier,
    koa: (...scopes) => koaGuard(verifier, guardOptions(scopes)),
    express: (...scopes) => expressGuard(verifier, guardOptions(scopes)),
    node: (...scopes) => nodeGuard(verifier, guardOptions(scopes)),
    metadata: createMetadataEndpoint(verifier.options, () =>
      metadataDocument(verifier.options, { resourceName, scopesSupported: fixedScopes ?? [...routeScopes] }),
    ),
  };
}
