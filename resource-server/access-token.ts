// What an API learns about a request once its access token is accepted, and the checks both
// token formats share.
import { Refusal } from './errors.ts';

export interface AccessToken {
  /** The user the token acts for; undefined for a client acting on its own (client credentials). */
  sub?: string;
  /** The client the token was issued to. */
  clientId: string;
  /** The scopes the token carries. */
  scopes: ReadonlySet<string>;
  /** Its one audience: this API's resource identifier. */
  audience: string;
  /** When it expires, in seconds since the epoch (its `exp`). */
  expiresAt: number;
  /** `jwt`: verified offline (RFC 9068); `opaque`: introspected (RFC 7662). */
  format: 'jwt' | 'opaque';
  /** For a DPoP-bound token: the thumbprint (RFC 7638) of the key that signed this request's proof. */
  jkt?: string;
  /**
   * What the user approved document by document (RFC 9396 `authorization_details`: the JWT claim
   * or the introspection field); empty when the token has none. Check one with `allows()`.
   */
  authorizationDetails: readonly AuthorizationDetail[];
  /** How the user signed in (`acr`, e.g. `urn:latchkey:acr:passkey`); undefined without a user sign-in. */
  acr?: string;
  /** When the user signed in (`auth_time`), seconds since the epoch. */
  authTime?: number;
  /** Every claim: the JWT's payload, or the introspection answer. */
  claims: Readonly<Record<string, unknown>>;
}

/** One RFC 9396 authorization detail: its `type`, and the fields its type defines. */
export interface AuthorizationDetail {
  readonly type: string;
  readonly identifier?: string;
  readonly actions?: readonly string[];
  readonly [field: string]: unknown;
}

/** RFC 9396 §2: an array of objects with a string `type`; anything else is ignored (none). */
export function detailsOf(value: unknown): readonly AuthorizationDetail[] {
  if (!Array.isArray(value)) return Object.freeze([]);
  return Object.freeze(value.filter((d): d is AuthorizationDetail => !!d && typeof d === 'object' && !Array.isArray(d) && typeof (d as { type?: unknown }).type === 'string'));
}

/**
 * Whether the token's authorization details allow `action` on the thing of `type` named
 * `identifier` (e.g. read contact 42): a detail of that type and identifier listing the action.
 */
export function allows(token: Pick<AccessToken, 'authorizationDetails'>, wanted: { type: string; identifier: string; action: string }): boolean {
  return token.authorizationDetails.some((d) => d.type === wanted.type && d.identifier === wanted.identifier && Array.isArray(d.actions) && d.actions.includes(wanted.action));
}

/** A token as its format's check leaves it: `boundTo` is `cnf.jkt`, still to be proven by DPoP. */
export interface CheckedToken extends Omit<AccessToken, 'jkt'> {
  boundTo: string | undefined;
}

/** The token has exactly one audience and it is us (Latchkey issues one audience per token). */
export function isOnlyAudience(aud: unknown, resource: string): boolean {
  if (typeof aud === 'string') return aud === resource;
  return Array.isArray(aud) && aud.length === 1 && aud[0] === resource;
}

/** RFC 6749 §3.3: space-delimited scope. */
export function scopesOf(scope: unknown): ReadonlySet<string> {
  return new Set(typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []);
}

/**
 * RFC 7800 §3.1 / RFC 9449 §6: `cnf.jkt` binds the token to a DPoP key. Any other confirmation
 * method (mTLS `x5t#S256`, RFC 8705) cannot be proven here, so such a token is refused rather
 * than accepted as a bearer token.
 */
export function boundKeyOf(cnf: unknown): string | undefined {
  if (cnf === undefined) return undefined;
  if (cnf && typeof cnf === 'object' && !Array.isArray(cnf)) {
    const members = Object.keys(cnf);
    const jkt = (cnf as Record<string, unknown>).jkt;
    if (members.length === 1 && typeof jkt === 'string' && jkt !== '') return jkt;
  }
  throw new Refusal('invalid_token', 'The access token is bound to a key in a way this API cannot check');
}
