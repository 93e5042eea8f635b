// DPoP (RFC 9449) and PAR (RFC 9126) from a client's side. oauth4webapi, a real client library,
// makes the requests a well-behaved client makes (its DPoP handle signs the proofs and keeps the
// server's nonces); `proofFor` builds a proof claim by claim for what a library never sends (a
// proof for another URL or method, a stale one, a replay), and `tokenEndpoint` sends it raw, so
// a test sees the exact status, error and headers.
import crypto from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { REDIRECT } from './fixtures.ts';
import { completeInteraction } from './oauth.ts';
import { UserAgent } from './user-agent.ts';

export const insecure = { [oauth.allowInsecureRequests]: true } as const;

export interface DpopKey {
  pair: oauth.CryptoKeyPair;
  jwk: JWK;
  /** RFC 7638 thumbprint: what a token bound to this key carries as `cnf.jkt`. */
  jkt: string;
}

export async function dpopKey(): Promise<DpopKey> {
  const pair = await oauth.generateKeyPair('ES256');
  const jwk = await exportJWK(pair.publicKey);
  return { pair, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

export async function discover(issuer: string): Promise<oauth.AuthorizationServer> {
  return oauth.processDiscoveryResponse(new URL(issuer), await oauth.discoveryRequest(new URL(issuer), insecure));
}

export interface ProofClaims {
  htm: string;
  htu: string;
  /** Adds `ath` for this access token (requests to an API). */
  accessToken?: string;
  nonce?: string;
  /** Seconds relative to now. */
  iatOffset?: number;
  jti?: string;
}

/** A DPoP proof made by hand (RFC 9449 §4.2). */
export function proofFor(key: DpopKey, claims: ProofClaims): Promise<string> {
  return new SignJWT({
    htm: claims.htm,
    htu: claims.htu,
    jti: claims.jti ?? crypto.randomUUID(),
    ...(claims.accessToken ? { ath: crypto.createHash('sha256').update(claims.accessToken).digest('base64url') } : {}),
    ...(claims.nonce ? { nonce: claims.nonce } : {}),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt(Math.floor(Date.now() / 1000) + (claims.iatOffset ?? 0))
    .sign(key.pair.privateKey as CryptoKey);
}

export interface RawAnswer {
  status: number;
  body: Record<string, string>;
  headers: Headers;
}

/** POST `url` (a token or PAR endpoint) with these form fields, exactly these headers. */
export async function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, string>) : {}, headers: response.headers };
}

/** Runs `request` again once if the server asked for a DPoP nonce (§8): the handle has it now. */
export async function withNonceRetry<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    return request();
  }
}

export interface FlowClient {
  clientId: string;
  clientSecret?: string | undefined;
}

export const clientAuth = (c: FlowClient) => (c.clientSecret ? oauth.ClientSecretBasic(c.clientSecret) : oauth.None());

/**
 * The authorization code flow with PKCE through login and consent, as oauth4webapi does it: the
 * authorization request pushed first (PAR, with the DPoP key so the code is bound to it) when
 * `par`, and the code redeemed with a DPoP proof when `key` is given. Returns the token response.
 */
export async function codeFlow(
  issuer: string,
  client: FlowClient,
  user: { email: string; password: string },
  {
    scope,
    resource,
    key,
    redeemKey,
    redirectUri = REDIRECT,
    par = false,
    agent = new UserAgent(),
  }: { scope: string; resource?: string; key?: DpopKey; /** The key the code is redeemed with (default `key`; null: no proof). */ redeemKey?: DpopKey | null; redirectUri?: string; par?: boolean; agent?: UserAgent },
): Promise<oauth.TokenEndpointResponse> {
  const as = await discover(issuer);
  const c: oauth.Client = { client_id: client.clientId };
  const handle = (k?: DpopKey) => ({ ...insecure, ...(k ? { DPoP: oauth.DPoP(c, k.pair) } : {}) });
  const options = handle(key);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const parameters: Record<string, string> = {
    client_id: client.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...(resource ? { resource } : {}),
  };
  const url = new URL(as.authorization_endpoint as string);
  if (par) {
    const pushed = await withNonceRetry(async () =>
      oauth.processPushedAuthorizationResponse(as, c, await oauth.pushedAuthorizationRequest(as, c, clientAuth(client), parameters, options)),
    );
    url.search = new URLSearchParams({ client_id: client.clientId, request_uri: pushed.request_uri }).toString();
  } else {
    url.search = new URLSearchParams(parameters).toString();
  }
  const final = await completeInteraction(agent, url.toString(), redirectUri, user);
  if (!final.location?.startsWith(redirectUri)) throw new Error(`flow did not return to the client: ${final.status} ${final.location ?? final.body.slice(0, 300)}`);
  const callback = oauth.validateAuthResponse(as, c, new URL(final.location), state);
  return withNonceRetry(async () =>
    oauth.processAuthorizationCodeResponse(as, c, await oauth.authorizationCodeGrantRequest(as, c, clientAuth(client), callback, redirectUri, verifier, redeemKey === undefined ? options : handle(redeemKey ?? undefined))),
  );
}

/** A refresh as oauth4webapi does it, with a proof by `key`'s handle (one handle per key keeps its nonces). */
export async function refresh(issuer: string, client: FlowClient, refreshToken: string, DPoP: oauth.DPoPHandle): Promise<oauth.TokenEndpointResponse> {
  const as = await discover(issuer);
  const c: oauth.Client = { client_id: client.clientId };
  return withNonceRetry(async () => oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, clientAuth(client), refreshToken, { ...insecure, DPoP })));
}

/** A request to an API with oauth4webapi's proof. */
export function apiRequest(accessToken: string, method: string, url: string, DPoP: oauth.DPoPHandle): Promise<Response> {
  return oauth.protectedResourceRequest(accessToken, method, new URL(url), new Headers(), null, { ...insecure, DPoP });
}

export { oauth };
