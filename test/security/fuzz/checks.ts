// The properties every response must have, whatever the request (T42f):
// - no 5xx, no dropped connection, no hang;
// - no stack trace or internal detail in the body;
// - the OAuth JSON endpoints answer a 4xx with a JSON object carrying an `error` string
//   (RFC 6749 §5.2, RFC 7662 §2.3, RFC 7009 §2.2.1, RFC 7591 §3.2.2); userinfo (RFC 6750 §3)
//   and registration management (RFC 7592) may carry the error in WWW-Authenticate instead;
// - HTML pages carry the security headers (T25) and never echo markup unescaped;
// - redirects go to this server or to a registered redirect URI only (RFC 9700 §4.11).
import type { ConcreteRequest, Observed } from './http.ts';
import type { Target } from './spec.ts';
import { MARKUP_MARKER } from './values.ts';

export type ViolationKind =
  | 'server-error'
  | 'no-response'
  | 'internal-detail'
  | 'oauth-error-body'
  | 'html-security-headers'
  | 'unescaped-markup'
  | 'open-redirect';

export interface Violation {
  kind: ViolationKind;
  detail: string;
}

/**
 * What must never appear in a response body (unless the request itself carried it). Short words
 * are bounded by characters that cannot occur in a base64url token: a random token or secret in
 * a response (a registration answer) once held "Knex" by chance.
 */
export const INTERNAL_DETAIL: RegExp[] = [
  /\bat \S+ \(/,
  /node_modules/,
  /\.ts:\d+/,
  /\.js:\d+:\d+/,
  /(?<![\w-])SQLITE/,
  /(?<![\w-])knex(?![\w-])/i,
  /syntax error at or near/,
  /TypeError/,
  /ReferenceError/,
  /RangeError/,
  /SyntaxError: /,
  /ECONNREFUSED/,
  /duplicate key value/,
  /violates (not-null|foreign key|unique)/,
];

/** OAuth endpoints answering JSON, with the methods they define (other methods: any 4xx page is fine). */
const OAUTH_JSON: Partial<Record<Target, { methods: string[]; wwwAuthenticate: boolean }>> = {
  token: { methods: ['POST'], wwwAuthenticate: false },
  introspection: { methods: ['POST'], wwwAuthenticate: false },
  revocation: { methods: ['POST'], wwwAuthenticate: false },
  registration: { methods: ['POST'], wwwAuthenticate: false },
  'registration-management': { methods: ['GET', 'PUT', 'DELETE'], wwwAuthenticate: true },
  userinfo: { methods: ['GET', 'POST'], wwwAuthenticate: true },
};

/** RFC 6749 §5.2: error codes are printable ASCII without `"` and `\`. */
const ERROR_CODE = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

function header(observed: Observed, name: string): string {
  const value = observed.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function requestText(request: ConcreteRequest): string {
  return `${request.path}\n${Object.values(request.headers).join('\n')}\n${request.body?.toString('utf8') ?? ''}`;
}

export interface CheckContext {
  issuer: string;
  /** Redirect URIs registered by fixtures or during the run. */
  isRegisteredRedirect(uri: URL): boolean;
}

export function check(request: ConcreteRequest, observed: Observed, context: CheckContext): Violation[] {
  const violations: Violation[] = [];
  // Node's HTTP client refused to build the request: nothing reached the server.
  if (observed.transportError?.startsWith('client:')) return violations;
  if (observed.transportError) {
    // A server may refuse an oversized request by closing the connection; anything else must be answered.
    if (!request.oversized) violations.push({ kind: 'no-response', detail: observed.transportError });
    return violations;
  }
  if (observed.status >= 500) violations.push({ kind: 'server-error', detail: `status ${observed.status}` });

  const sent = requestText(request);
  for (const pattern of INTERNAL_DETAIL) {
    const match = pattern.exec(observed.body);
    // Echoed input (an error_description quoting the request) is not a leak.
    if (match && !sent.includes(match[0]) && !pattern.test(sent)) {
      const at = match.index;
      violations.push({ kind: 'internal-detail', detail: `${pattern}: …${observed.body.slice(Math.max(0, at - 60), at + 80)}…` });
      break;
    }
  }

  const type = header(observed, 'content-type');
  const oauth = OAUTH_JSON[request.target];
  // 431 comes from Node's HTTP parser before any application code runs; HEAD has no body.
  if (oauth && request.onEndpoint && oauth.methods.includes(request.method) && observed.status >= 400 && observed.status < 500 && observed.status !== 431) {
    const problem = oauthErrorProblem(observed, type);
    const challenge = header(observed, 'www-authenticate');
    if (problem && !(oauth.wwwAuthenticate && /\berror="?[\w.-]+/.test(challenge))) {
      violations.push({ kind: 'oauth-error-body', detail: `${observed.status} ${type || '(no content-type)'}: ${problem}` });
    }
  }

  if (/text\/html/i.test(type)) {
    const missing: string[] = [];
    if (header(observed, 'x-frame-options').toUpperCase() !== 'DENY') missing.push('x-frame-options: DENY');
    if (!header(observed, 'content-security-policy').includes("frame-ancestors 'none'")) missing.push("CSP frame-ancestors 'none'");
    if (!/\bno-store\b/.test(header(observed, 'cache-control'))) missing.push('cache-control: no-store');
    if (missing.length) violations.push({ kind: 'html-security-headers', detail: `missing ${missing.join(', ')}` });
    if (observed.body.includes(MARKUP_MARKER) || observed.body.includes('<script>x</script>')) {
      violations.push({ kind: 'unescaped-markup', detail: 'request markup echoed unescaped in an HTML page' });
    }
  }

  const location = header(observed, 'location');
  if (observed.status >= 300 && observed.status < 400 && location) {
    const target = URL.parse(location, context.issuer);
    if (!target) {
      violations.push({ kind: 'open-redirect', detail: `unparseable Location ${location.slice(0, 200)}` });
    } else if (target.origin !== new URL(context.issuer).origin && !context.isRegisteredRedirect(target)) {
      violations.push({ kind: 'open-redirect', detail: `Location ${location.slice(0, 200)}` });
    }
  }
  return violations;
}

function oauthErrorProblem(observed: Observed, type: string): string | undefined {
  if (!/json/i.test(type)) return `not JSON: ${observed.body.slice(0, 120).replace(/\s+/g, ' ')}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(observed.body);
  } catch {
    return `unparseable JSON: ${observed.body.slice(0, 120)}`;
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  if (typeof error !== 'string') return `no "error" string: ${observed.body.slice(0, 120)}`;
  if (!ERROR_CODE.test(error)) return `"error" has characters RFC 6749 §5.2 does not allow: ${JSON.stringify(error).slice(0, 80)}`;
  return undefined;
}

/** Same redirect target for a browser: origin and path; loopback ports are free (RFC 8252 §7.3). */
export function sameRedirectTarget(registered: string, actual: URL): boolean {
  const r = URL.parse(registered);
  if (!r) return false;
  if (r.protocol !== actual.protocol || r.pathname !== actual.pathname) return false;
  if (r.protocol !== 'http:' && r.protocol !== 'https:') return true;
  if (r.host === actual.host) return true;
  const loopback = ['127.0.0.1', '[::1]', 'localhost'];
  return r.protocol === 'http:' && loopback.includes(r.hostname) && r.hostname === actual.hostname;
}
