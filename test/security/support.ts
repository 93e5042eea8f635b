// Small helpers shared by the protocol security tests (T1–T23): raw requests with manual
// redirects, authorization requests built by hand (so a test controls every parameter), and a
// way to obtain an authorization code through the real login and consent pages.
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Harness } from '../helpers/harness.ts';
import { completeInteraction } from '../helpers/oauth.ts';
import { UserAgent } from '../helpers/user-agent.ts';

export interface RawResponse {
  status: number;
  headers: Headers;
  /** Absolute, resolved against the request URL. */
  location: string | undefined;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

async function toRaw(url: string, response: Response): Promise<RawResponse> {
  const body = await response.text();
  const location = response.headers.get('location') ?? undefined;
  return {
    status: response.status,
    headers: response.headers,
    location: location ? new URL(location, url).toString() : undefined,
    body,
    json: <T>() => JSON.parse(body) as T,
  };
}

/** A request that never follows redirects. */
export async function send(url: string, init: RequestInit = {}): Promise<RawResponse> {
  return toRaw(url, await fetch(url, { redirect: 'manual', ...init }));
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POST application/x-www-form-urlencoded, optionally with HTTP Basic client authentication. */
export function postForm(
  url: string,
  fields: Record<string, string> | URLSearchParams,
  { auth, headers = {} }: { auth?: { id: string; secret: string }; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return send(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(auth ? { authorization: basic(auth.id, auth.secret) } : {}),
      ...headers,
    },
    body: fields instanceof URLSearchParams ? fields.toString() : new URLSearchParams(fields).toString(),
  });
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function s256(verifier: string): string {
  return crypto.createHash('sha256').update(verifier).digest('base64url');
}

/** A fresh PKCE pair; the verifier is 43 characters unless a length is given. */
export function pkce(length = 43): Pkce {
  const verifier = crypto.randomBytes(96).toString('base64url').slice(0, length);
  return { verifier, challenge: s256(verifier) };
}

/** A "good auth request" (catalogue conventions): code + S256 PKCE + state. Override or delete (undefined) any parameter. */
export function authParams(
  clientId: string,
  redirectUri: string,
  scope: string,
  overrides: Record<string, string | undefined> = {},
): { params: URLSearchParams; pkce: Pkce; state: string } {
  const pair = pkce();
  const state = crypto.randomBytes(12).toString('base64url');
  const all: Record<string, string | undefined> = {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: pair.challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(all)) if (value !== undefined) params.set(name, value);
  return { params, pkce: pair, state: all.state ?? state };
}

/** The authorization response parameters carried by a redirect (query, or fragment when used). */
export function responseParams(location: string): URLSearchParams {
  const url = new URL(location);
  return url.hash.length > 1 ? new URLSearchParams(url.hash.slice(1)) : url.searchParams;
}

/** `origin + pathname` of a URL: where a redirect really goes, without its parameters. */
export function target(location: string): string {
  const url = new URL(location);
  return `${url.origin}${url.pathname}`;
}

/**
 * Where an authorization response sends the browser back to the client: the Location of a
 * redirect, or — for clients nobody has verified, which get a "you are leaving" page instead of an
 * automatic redirect (T32) — the page's link to the client's redirect URI.
 */
export function onwardLocation(response: { status: number; location?: string | undefined; body: string }, redirectUri: string): string | undefined {
  if (response.location) return response.location;
  if (response.status !== 200) return undefined;
  for (const [, href] of response.body.matchAll(/href="([^"]*)"/g)) {
    const url = (href ?? '').replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/&quot;/g, '"');
    if (url.startsWith(redirectUri)) return url;
  }
  return undefined;
}

/** Counts stored provider artefacts of the given models (interactions, codes, sessions, grants...). */
export async function countArtefacts(h: Harness, models: string[]): Promise<number> {
  const [row] = await h.db('oidc_payloads').whereIn('model', models).count({ n: '*' });
  return Number(row?.n ?? 0);
}

export interface IssuedCode {
  code: string;
  verifier: string;
  state: string;
  /** The full redirect to the client. */
  location: string;
  agent: UserAgent;
}

/**
 * Runs the authorization request through the real login and consent pages and returns the
 * code delivered to `redirectUri`, without redeeming it.
 */
export async function obtainCode(
  h: Harness,
  user: { email: string; password: string },
  request: { clientId: string; redirectUri: string; scope: string; extra?: Record<string, string | undefined>; pkce?: Pkce },
  agent = new UserAgent(),
): Promise<IssuedCode> {
  const built = authParams(request.clientId, request.redirectUri, request.scope, {
    ...(request.pkce ? { code_challenge: request.pkce.challenge } : {}),
    ...request.extra,
  });
  const verifier = request.pkce?.verifier ?? built.pkce.verifier;
  const final = await completeInteraction(agent, h.url(`/auth?${built.params}`), request.redirectUri, user);
  const location = final.location;
  if (!location || !location.startsWith(request.redirectUri)) {
    throw new Error(`no redirect to the client: ${final.status} ${location ?? final.body.slice(0, 300)}`);
  }
  const code = responseParams(location).get('code');
  if (!code) throw new Error(`no code in ${location}`);
  return { code, verifier, state: built.state, location, agent };
}

/** Redeems a code at the token endpoint with client_secret_basic (or as a public client). */
export function redeemCode(
  h: Harness,
  client: { id: string; secret?: string },
  fields: { code: string; redirect_uri?: string; code_verifier?: string; [name: string]: string | undefined },
): Promise<RawResponse> {
  const body = new URLSearchParams({ grant_type: 'authorization_code' });
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) body.set(name, value);
  if (client.secret === undefined) {
    body.set('client_id', client.id);
    return postForm(h.url('/token'), body);
  }
  return postForm(h.url('/token'), body, { auth: { id: client.id, secret: client.secret } });
}

/** RFC 7662 introspection by a client authenticating with client_secret_basic. */
export async function introspect(h: Harness, caller: { id: string; secret: string }, token: string, hint?: string): Promise<RawResponse> {
  return postForm(h.url('/token/introspection'), { token, ...(hint ? { token_type_hint: hint } : {}) }, { auth: caller });
}

/** Dynamic client registration (RFC 7591) with an initial access token. */
export async function register(h: Harness, metadata: Record<string, unknown>, initialAccessToken?: string): Promise<RawResponse> {
  const iat = initialAccessToken ?? (await new h.app.provider.InitialAccessToken({}).save());
  return send(h.url('/reg'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${iat}` },
    body: JSON.stringify(metadata),
  });
}

/** Users' subjects are server-generated UUIDs. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface PlainResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A request through node:http, for headers fetch() will not send as given (`Host`). Never
 * follows redirects.
 */
export function rawHttp(url: string, { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * A self-signed certificate for 127.0.0.1, for tests that serve the app over real TLS. Test-only
 * material, not a secret; clients in the tests do not verify it (its dates do not matter).
 */
export const TEST_TLS = {
  cert: `-----BEGIN CERTIFICATE-----
MIIBjzCCATagAwIBAgIUJxCR08R0BZGhx9VjsalWYmUiSGEwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyMzIzMDIzMFoYDzIxMjYxMDMw
MjMwMjMwWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATX19WrfXi7P4DAQScMGUEVAhBu5dSGX/u6Ie358w/cTfrtX6RuB4ch
CW5810jkDoHUdlVU4egT4u7GSJOi2MPHo2QwYjAdBgNVHQ4EFgQU9D8cSBXj+Ggh
RU0wYBxYWL0sKVgwHwYDVR0jBBgwFoAU9D8cSBXj+GghRU0wYBxYWL0sKVgwDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0cAMEQC
IGxJ42FXtEvw5EUvBu+66cxJXEdsrafMnFzbZ8t5zFZiAiA9jwoYTZwooI+4V5lA
VOzmy2ycy9mveqJb5UR5Xpidzg==
-----END CERTIFICATE-----
`,
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgbBEXRPOVXF7EjyKE
b2TTADaqtyHsLdRZmM3Jk7sLJdWhRANCAATX19WrfXi7P4DAQScMGUEVAhBu5dSG
X/u6Ie358w/cTfrtX6RuB4chCW5810jkDoHUdlVU4egT4u7GSJOi2MPH
-----END PRIVATE KEY-----
`,
};

export interface TlsListener {
  /** https://127.0.0.1:<port> */
  origin: string;
  /** Hands requests to the app once it exists (the issuer must name the port first). */
  serve(handler: http.RequestListener): void;
  request(path: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<PlainResponse>;
  close(): Promise<void>;
}

/** An HTTPS listener on loopback in front of an app callback: the server "served over TLS". */
export async function tlsListener(): Promise<TlsListener> {
  let handler: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const server = https.createServer({ cert: TEST_TLS.cert, key: TEST_TLS.key }, (req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    serve(next) {
      handler = next;
    },
    request(path, { method = 'GET', headers = {}, body } = {}) {
      return new Promise((resolve, reject) => {
        const request = https.request(`${origin}${path}`, { method, headers, rejectUnauthorized: false }, (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
        });
        request.on('error', reject);
        request.end(body);
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
