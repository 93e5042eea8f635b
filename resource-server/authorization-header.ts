// Reading the access token from the request: the Authorization header only (RFC 6750 §2.1).
// Form bodies (§2.2) and the query string (§2.3) are never read: a token in a URL ends up in
// logs, histories and Referer headers (RFC 9700 §4.3.2, bearer_methods_supported is "header").
import { Refusal } from './errors.ts';

export interface Credentials {
  scheme: 'Bearer' | 'DPoP';
  token: string;
}

// RFC 9110 §11.4: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ].
const CREDENTIALS = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?$/s;
// RFC 9110 §11.2 token68: the access token syntax of RFC 6750 §2.1 and RFC 9449 §7.1.
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
// No real token is this long; a bigger one is refused before any work is done on it.
const MAX_TOKEN_LENGTH = 8192;

/**
 * The Bearer or DPoP credentials of a request; undefined when it has none for these schemes (no
 * header, or another scheme such as Basic: RFC 6750 §3.1 treats both as no authentication).
 * Throws invalid_request for a header that names our scheme but is malformed, or is repeated.
 */
export function readCredentials(values: string | readonly string[] | undefined): Credentials | undefined {
  const all = values === undefined ? [] : typeof values === 'string' ? [values] : values;
  const present = all.filter((value) => value.trim() !== '');
  if (present.length === 0) return undefined;
  if (present.length > 1) throw new Refusal('invalid_request', 'The request has more than one Authorization header');
  const match = CREDENTIALS.exec((present[0] as string).trim());
  if (!match) throw new Refusal('invalid_request', 'The Authorization header is malformed');
  const scheme = (match[1] as string).toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'dpop') return undefined;
  const name = scheme === 'bearer' ? 'Bearer' : 'DPoP';
  const token = match[2] ?? '';
  if (!TOKEN68.test(token)) {
    throw new Refusal('invalid_request', `The Authorization header is malformed: expected ${name} followed by the access token`, name === 'DPoP' ? { scheme: 'DPoP' } : {});
  }
  if (token.length > MAX_TOKEN_LENGTH) throw new Refusal('invalid_token', 'The access token is too long', name === 'DPoP' ? { scheme: 'DPoP' } : {});
  return { scheme: name, token };
}
