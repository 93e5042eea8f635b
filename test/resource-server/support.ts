// A tiny contacts API protected by latchkey/resource-server, in each framework the library
// supports, on loopback; raw HTTP calls to it (node:http, so repeated headers go out as sent);
// tokens from a real client library (oauth4webapi) and DPoP proofs made by hand with jose.
import crypto from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import express from 'express';
import { exportJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import Koa from 'koa';
import * as oauth from 'oauth4webapi';
import { resourceServer, type AccessToken, type AccessTokenState, type ResourceServer, type ResourceServerOptions } from '../../resource-server/index.ts';

export type Framework = 'koa' | 'express' | 'node';
export const FRAMEWORKS: Framework[] = ['koa', 'express', 'node'];

export interface Api {
  origin: string;
  url(path: string): string;
  rs: ResourceServer;
  close(): Promise<void>;
}

/** What the API answers with: the token as the handler sees it. */
function describeToken(token: AccessToken) {
  return { ...token, scopes: [...token.scopes].sort(), claims: undefined };
}

/** The scopes the API's routes need: GET /contacts `read`, POST /contacts `read` and `write`. */
export interface RouteScopes {
  read: string;
  write: string;
}
const CONTACTS_SCOPES: RouteScopes = { read: 'contacts:read', write: 'contacts:write' };

function koaApp(rs: ResourceServer, { read, write }: RouteScopes): http.RequestListener {
  const app = new Koa();
  const router = new Router<AccessTokenState>();
  app.use(rs.metadata.koa());
  router.get('/contacts', rs.koa(read), (ctx) => void (ctx.body = describeToken(ctx.state.accessToken)));
  router.post('/contacts', rs.koa(read, write), (ctx) => {
    ctx.status = 201;
    ctx.body = describeToken(ctx.state.accessToken);
  });
  router.get('/me', rs.koa(), (ctx) => void (ctx.body = describeToken(ctx.state.accessToken)));
  app.use(router.routes());
  return app.callback();
}

function expressApp(rs: ResourceServer, { read, write }: RouteScopes): http.RequestListener {
  const app = express();
  app.use(rs.metadata.express());
  const token = (res: express.Response) => describeToken(res.locals.accessToken as AccessToken);
  app.get('/contacts', rs.express(read), (_req, res) => void res.json(token(res)));
  app.post('/contacts', rs.express(read, write), (_req, res) => void res.status(201).json(token(res)));
  app.get('/me', rs.express(), (_req, res) => void res.json(token(res)));
  return app as unknown as http.RequestListener;
}

function nodeApp(rs: ResourceServer, { read, write }: RouteScopes): http.RequestListener {
  const guards = { 'GET /contacts': rs.node(read), 'POST /contacts': rs.node(read, write), 'GET /me': rs.node() };
  return async (req, res) => {
    if (rs.metadata.node(req, res)) return;
    const route = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}` as keyof typeof guards;
    const guard = guards[route];
    if (!guard) return void res.writeHead(404).end();
    const token = await guard(req, res);
    if (!token) return;
    res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(describeToken(token)));
  };
}

/** Listens first (the options may need the API's own origin), then serves the framework's app. */
export async function startApi(framework: Framework, options: (origin: string) => ResourceServerOptions, scopes = CONTACTS_SCOPES): Promise<Api> {
  let handler: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rs = resourceServer(options(origin));
  handler = { koa: koaApp, express: expressApp, node: nodeApp }[framework](rs, scopes);
  return {
    origin,
    url: (path) => `${origin}${path}`,
    rs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

function parse(text: string): Record<string, unknown> {
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { text };
  }
}

/** One request with exactly these headers (an array value is sent as repeated header lines). */
export function call(url: string, { method = 'GET', headers = {} }: { method?: string; headers?: Record<string, string | string[]> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: parse(text) }));
    });
    request.on('error', reject);
    request.end();
  });
}

const insecure = { [oauth.allowInsecureRequests]: true } as const;

export async function authorizationServer(issuer: string): Promise<oauth.AuthorizationServer> {
  return oauth.processDiscoveryResponse(new URL(issuer), await oauth.discoveryRequest(new URL(issuer), insecure));
}

/** A client-credentials token from oauth4webapi; DPoP-bound to `dpopKey` when given. */
export async function clientCredentialsToken(
  issuer: string,
  client: { clientId: string; clientSecret: string },
  { scope, resource, dpopKey }: { scope: string; resource?: string; dpopKey?: oauth.CryptoKeyPair },
): Promise<string> {
  const as = await authorizationServer(issuer);
  const c: oauth.Client = { client_id: client.clientId };
  const DPoP = dpopKey ? oauth.DPoP(c, dpopKey) : undefined;
  const parameters: Record<string, string> = { scope, ...(resource ? { resource } : {}) };
  const response = await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretBasic(client.clientSecret), parameters, { ...insecure, ...(DPoP ? { DPoP } : {}) });
  const tokens = await oauth.processClientCredentialsResponse(as, c, response);
  if (dpopKey && tokens.token_type !== 'dpop') throw new Error(`expected a DPoP-bound token, got token_type ${tokens.token_type}`);
  return tokens.access_token;
}

/** A request with a DPoP proof made by oauth4webapi (the client library's own view of RFC 9449). */
export async function dpopRequest(accessToken: string, method: string, url: string, key: oauth.CryptoKeyPair): Promise<Response> {
  const DPoP = oauth.DPoP({}, key);
  return oauth.protectedResourceRequest(accessToken, method, new URL(url), new Headers(), null, { ...insecure, DPoP });
}

export interface ProofKey {
  pair: oauth.CryptoKeyPair;
  jwk: JWK;
}

export async function proofKey(): Promise<ProofKey> {
  const pair = await oauth.generateKeyPair('ES256');
  return { pair, jwk: await exportJWK(pair.publicKey) };
}

export interface ProofOverrides {
  htm?: string;
  htu?: string;
  /** Seconds relative to now. */
  iatOffset?: number;
  jti?: string;
  ath?: string | null;
  typ?: string;
  jwk?: JWK;
}

/** A DPoP proof built claim by claim (RFC 9449 §4.2), for the cases a client library would never send. */
export function handmadeProof(key: ProofKey, method: string, url: string, accessToken: string, overrides: ProofOverrides = {}): Promise<string> {
  const ath = overrides.ath === undefined ? crypto.createHash('sha256').update(accessToken).digest('base64url') : overrides.ath;
  return new SignJWT({
    htm: overrides.htm ?? method,
    htu: overrides.htu ?? url,
    jti: overrides.jti ?? crypto.randomUUID(),
    ...(ath === null ? {} : { ath }),
  })
    .setProtectedHeader({ alg: 'ES256', typ: overrides.typ ?? 'dpop+jwt', jwk: overrides.jwk ?? key.jwk })
    .setIssuedAt(Math.floor(Date.now() / 1000) + (overrides.iatOffset ?? 0))
    .sign(key.pair.privateKey as CryptoKey);
}

export const metadataUrl = (api: Api) => `${api.origin}/.well-known/oauth-protected-resource`;

/**
 * Counts the requests this process sends with fetch to `url` (undici's diagnostics channel: the
 * verifier's own calls to the issuer, observed without touching them).
 */
export function countRequests(url: string): { readonly count: number; stop(): void } {
  const target = new URL(url);
  let count = 0;
  const listener = (message: unknown) => {
    const { request } = message as { request: { origin: string; path: string } };
    if (request.origin === target.origin && request.path.split('?')[0] === target.pathname) count += 1;
  };
  diagnostics.subscribe('undici:request:create', listener);
  return {
    get count() {
      return count;
    },
    stop: () => void diagnostics.unsubscribe('undici:request:create', listener),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
