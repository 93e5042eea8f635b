// latchkey/resource-server: check Latchkey access tokens in any Node API (Koa, Express or plain
// node:http). JWT access tokens (RFC 9068) offline, opaque ones by introspection (RFC 7662),
// DPoP-bound ones with their proof (RFC 9449); refusals per RFC 6750 §3 with the protected
// resource metadata URL (RFC 9728 §5.1), and that metadata document itself.
export { resourceServer, type ResourceServer, type ResourceServerOptions, type RouteOptions } from './resource-server.ts';
export type { AcrRequirement } from './acr.ts';
export { createTokenVerifier, type ProtectedRequest, type TokenVerifier, type VerifyOptions } from './verifier.ts';
export type { TokenVerifierOptions, ResolvedOptions } from './options.ts';
export { allows, type AccessToken, type AuthorizationDetail } from './access-token.ts';
export { TokenError, type TokenErrorBody, type TokenErrorCode } from './errors.ts';
export { metadataUrlFor } from './urls.ts';
export type { MetadataEndpoint, ProtectedResourceMetadata } from './metadata.ts';
export {
  ACCESS_TOKEN,
  type AccessTokenState,
  type ExpressMiddleware,
  type ExpressRequestLike,
  type ExpressResponseLike,
  type KoaMiddleware,
  type NodeGuard,
} from './middleware.ts';
export type { KoaContextLike } from './respond.ts';
