// The properties every response must have, whatever the request (T42f):
// - no 5xx, no dropped connection, no hang;
// - no stack trace or internal detail in the body;
// - the OAuth JSON endpoints answer a 4xx with a JSON object carrying an `error` string
//   (RFC 6749 §5.2, RFC 7662 §2.3, RFC 7009 §2.2.1, RFC 7591 §3.2.2); userinfo (RFC 6750 §3)
//   and registration management (RFC 7592) may carry the error in WWW-Authenticate instead;
// - HTML pages carry the security headers (T25) and never echo markup unescaped;
// - redirects go to this server or to a registered redirect URI only (RFC 9700 §4.11);
// - the admin API (docs/admin-api.md): every answer of 400 and above is a JSON object with an
//   `error`; a 400 to an authenticated request whose body it could read (a validation refusal)
//   says which `fields` are at fault; nothing but a live latchkey:admin token gets a 2xx for a
//   write, nothing but it or a latchkey:admin.read token for a read, and a caller without one
//   never sees validation details. (After the run, admin-state.ts checks that the users,
//   resource servers and audit trail changed only as the admin token's answers say.)
import { METHODS } from 'node:http';
import type { AdminCredential, ConcreteRequest, Observed } from './http.ts';
import type { Target } from './spec.ts';
import { MARKUP_MARKER } from './values.ts';

export type ViolationKind =
  | 'server-error'
  | 'no-response'
  | 'internal-detail'
  | 'oauth-error-body'
  | 'html-security-headers'
  | 'unescaped-markup'
  | 'open-redirect'
  | 'admin-error-body'
  | 'admin-no-fields'
  | 'admin-access'
  | 'admin-ledger';

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

  if (request.admin) violations.push(...adminViolations(request, observed, type));

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

/** The admin API's oracles (see the header). */
function adminViolations(request: ConcreteRequest, observed: Observed, type: string): Violation[] {
  const admin = request.admin;
  if (!admin) return [];
  const violations: Violation[] = [];
  const { status } = observed;
  // 431, and the 400 for a method Node does not know (FOO), come from Node's HTTP parser before
  // any application code runs; HEAD has no body.
  const parserRefused = status === 431 || (status === 400 && !METHODS.includes(request.method));
  if (status >= 400 && !parserRefused && request.method !== 'HEAD') {
    const problem = oauthErrorProblem(observed, type);
    if (problem) violations.push({ kind: 'admin-error-body', detail: `${status} ${type || '(no content-type)'}: ${problem}` });
  }
  let fields: unknown;
  try {
    fields = (JSON.parse(observed.body) as { fields?: unknown } | null)?.fields;
  } catch {
    fields = undefined;
  }
  const hasFields = typeof fields === 'object' && fields !== null && Object.keys(fields).length > 0 && Object.values(fields).every((v) => typeof v === 'string');
  const { credential, route } = admin;
  const underApi = /^\/admin\/v1(\/|$)/.test(request.path.split('?')[0] ?? '');
  const reading = ['GET', 'HEAD', 'OPTIONS'].includes(request.method);
  const may = credential === 'admin' || (credential === 'read' && (route ? route.access === 'read' : reading));
  const what = route ? route.operationId : `${request.method} ${request.path.split('?')[0]?.slice(0, 60)}`;
  if (underApi && status >= 200 && status < 300 && request.method !== 'OPTIONS' && !may) {
    violations.push({ kind: 'admin-access', detail: `${status} to ${what} with ${describeCredential(credential)}` });
  }
  if (status === 400 && fields !== undefined && !may) {
    violations.push({ kind: 'admin-access', detail: `validation details (fields) to ${what} with ${describeCredential(credential)}` });
  }
  if (status === 400 && route && may && admin.readableBody && !hasFields) {
    violations.push({ kind: 'admin-no-fields', detail: `400 to ${what} without "fields": ${observed.body.slice(0, 200)}` });
  }
  return violations;
}

function describeCredential(credential: AdminCredential): string {
  return {
    admin: 'a latchkey:admin token',
    read: 'a latchkey:admin.read token',
    noscope: 'an admin API token with neither scope',
    revoked: 'a revoked admin token',
    removed: 'the token of a removed admin client',
    none: 'no Authorization header',
    other: 'a credential that is not an admin API token',
  }[credential];
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
