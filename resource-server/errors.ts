// The one error type callers see. A refused request carries everything its answer needs: the
// HTTP status, the exact `WWW-Authenticate` value and a JSON body, so every framework adapter
// writes the same answer (respond.ts) and an API with its own error handling can too.
import { challenge } from './challenge.ts';

export type TokenErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'insufficient_user_authentication'
  | 'temporarily_unavailable';

export interface TokenErrorBody {
  /** Absent when the request had no access token at all (RFC 6750 §3.1: no error information then). */
  error?: TokenErrorCode;
  error_description: string;
}

// RFC 6750 §3.1 and RFC 9449 §7.1 for the 4xx; RFC 9110 §15.6.4 for an authorization server we
// could not ask: the token may be perfectly good, so it is never a 401.
const STATUS: Record<TokenErrorCode, 400 | 401 | 403 | 503> = {
  invalid_request: 400,
  invalid_token: 401,
  invalid_dpop_proof: 401,
  // RFC 9470 §3: the token is fine, the sign-in behind it too weak; the client steps up.
  insufficient_user_authentication: 401,
  insufficient_scope: 403,
  temporarily_unavailable: 503,
};

/**
 * Thrown inside the verifier by the step that refuses; the verifier turns it into a TokenError
 * once it knows which challenge to send. Not exported from the package.
 */
export class Refusal extends Error {
  override name = 'Refusal';
  constructor(
    /** Undefined: there was no access token at all. */
    readonly code: TokenErrorCode | undefined,
    description: string,
    readonly details: { scheme?: 'DPoP'; scope?: string; acrValues?: readonly string[]; cause?: unknown } = {},
  ) {
    super(description, details.cause === undefined ? undefined : { cause: details.cause });
  }
}

export interface ChallengeContext {
  scheme: 'Bearer' | 'DPoP';
  metadataUrl: string;
  dpopAlgorithms: readonly string[];
}

/** Why a request was refused, and the answer to send for it. */
export class TokenError extends Error {
  override name = 'TokenError';
  readonly status: 400 | 401 | 403 | 503;
  /** The OAuth error code; undefined when the request had no access token at all. */
  readonly error: TokenErrorCode | undefined;
  /** The exact `WWW-Authenticate` value; undefined for 503 (the request was not at fault). */
  readonly wwwAuthenticate: string | undefined;
  /** Every header the answer needs (`WWW-Authenticate`, `Cache-Control`, `Content-Type`). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readonly<TokenErrorBody>;

  constructor(refusal: Refusal, context: ChallengeContext) {
    super(refusal.message, { cause: refusal.cause });
    this.error = refusal.code;
    this.status = refusal.code === undefined ? 401 : STATUS[refusal.code];
    this.wwwAuthenticate =
      this.status === 503
        ? undefined
        : challenge({
            scheme: context.scheme,
            error: refusal.code,
            // RFC 6750 §3.1: without a token, no error information in the challenge.
            description: refusal.code === undefined ? undefined : refusal.message,
            scope: refusal.details.scope,
            acrValues: refusal.details.acrValues,
            algs: context.scheme === 'DPoP' ? context.dpopAlgorithms : undefined,
            resourceMetadata: context.metadataUrl,
          });
    this.headers = Object.freeze({
      ...(this.wwwAuthenticate === undefined ? {} : { 'www-authenticate': this.wwwAuthenticate }),
      // RFC 6750 §5.3 spirit and RFC 9111 §5.2.2.5: answers about credentials are never stored.
      'cache-control': 'no-store',
      'content-type': 'application/json',
    });
    this.body = Object.freeze(refusal.code === undefined ? { error_description: refusal.message } : { error: refusal.code, error_description: refusal.message });
  }
}
