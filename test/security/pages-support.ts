// Shared helpers for the page and session tests (T24–T28, T31–T33): a browser-like user agent,
// a small HTML tag reader, CSP and Set-Cookie parsers, and the steps of a sign-in.
import type { Harness } from '../helpers/harness.ts';
import { CONTACTS, REDIRECT } from '../helpers/fixtures.ts';
import { authorizationRequest, client, type AuthorizationRequest } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent, type PageResponse } from '../helpers/user-agent.ts';
import { consentFields } from '../helpers/user-agent.ts';
import { findPayloads } from '../../adapters/payload-queries.ts';
import { createSealer } from '../../adapters/at-rest.ts';

/** What a browser sends when it navigates: oidc-provider renders HTML errors only for it. */
export const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** The scripted user agent, announcing itself as a browser navigating to a page. */
export class Browser extends UserAgent {
  override request(url: string, init: { method?: string; form?: Record<string, string> | Array<[string, string]>; headers?: Record<string, string> } = {}): Promise<PageResponse> {
    return super.request(url, { ...init, headers: { accept: BROWSER_ACCEPT, ...init.headers } });
  }

  /** The value of a cookie this browser would send to `url`. */
  cookie(url: string, name: string): string | undefined {
    for (const pair of this.cookieHeader(url).split('; ')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq) === name) return pair.slice(eq + 1);
    }
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// HTML

export interface Tag {
  name: string;
  attrs: Record<string, string>;
  /** The raw markup of the start tag. */
  raw: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code = entity[1]?.toLowerCase() === 'x' ? Number.parseInt(entity.slice(2), 16) : Number.parseInt(entity.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

/** Every start tag in the document, with decoded attribute values (names lower-cased). */
export function tags(html: string): Tag[] {
  const found: Tag[] = [];
  // Comments cannot hide markup from this reader: drop them first.
  const source = html.replace(/<!--[\s\S]*?-->/g, '');
  const tagPattern = /<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*\/?>/g;
  const attrPattern = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const match of source.matchAll(tagPattern)) {
    const attrs: Record<string, string> = {};
    for (const a of (match[2] ?? '').matchAll(attrPattern)) {
      const name = (a[1] as string).toLowerCase();
      if (!(name in attrs)) attrs[name] = decodeEntities(a[2] ?? a[3] ?? a[4] ?? '');
    }
    found.push({ name: (match[1] as string).toLowerCase(), attrs, raw: match[0] });
  }
  return found;
}

/** Visible text of a fragment: tags removed, entities decoded, whitespace collapsed. */
export function textOf(html: string): string {
  return decodeEntities(html.replace(/<!--[\s\S]*?-->/g, '').replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
}

/** The inner HTML of each element `name` (not nested). */
export function elements(html: string, name: string): string[] {
  return [...html.matchAll(new RegExp(`<${name}\\b[^>]*>([\\s\\S]*?)</${name}>`, 'gi'))].map((m) => m[1] as string);
}

export interface Reference {
  tag: string;
  attribute: string;
  url: string;
}

/**
 * Every URL the page makes the browser load or send something to: scripts, styles and other
 * links, images, frames, plugins, media, form targets, base, meta refresh.
 */
export function loadedReferences(html: string): Reference[] {
  const refs: Reference[] = [];
  const add = (tag: Tag, attribute: string, value: string | undefined) => {
    if (value !== undefined && value.trim() !== '') refs.push({ tag: tag.name, attribute, url: value.trim() });
  };
  for (const tag of tags(html)) {
    const a = tag.attrs;
    switch (tag.name) {
      case 'script':
      case 'iframe':
      case 'frame':
      case 'embed':
      case 'track':
        add(tag, 'src', a.src);
        break;
      case 'img':
      case 'source':
        add(tag, 'src', a.src);
        for (const candidate of (a.srcset ?? '').split(',')) add(tag, 'srcset', candidate.trim().split(/\s+/)[0]);
        break;
      case 'video':
      case 'audio':
        add(tag, 'src', a.src);
        add(tag, 'poster', a.poster);
        break;
      case 'link':
        add(tag, 'href', a.href);
        break;
      case 'object':
        add(tag, 'data', a.data);
        break;
      case 'form':
        // A form without action posts to the page itself.
        add(tag, 'action', a.action);
        break;
      case 'input':
      case 'button':
        add(tag, 'formaction', a.formaction);
        break;
      case 'base':
        add(tag, 'href', a.href);
        break;
      case 'meta':
        if (a['http-equiv']?.toLowerCase() === 'refresh') add(tag, 'content', a.content?.replace(/^\s*\d+\s*;?\s*(url\s*=\s*)?/i, '') ?? '');
        break;
      default:
        break;
    }
    // Inline styles can load images and fonts too.
    for (const url of cssUrls(a.style ?? '')) refs.push({ tag: tag.name, attribute: 'style', url });
  }
  for (const style of elements(html, 'style')) {
    for (const url of cssUrls(style)) refs.push({ tag: 'style', attribute: 'css', url });
  }
  return refs;
}

/** URLs in CSS: url(...) and @import "...". */
export function cssUrls(css: string): string[] {
  const urls: string[] = [];
  for (const m of css.matchAll(/url\(\s*(?:"([^"]*)"|'([^']*)'|([^)]*?))\s*\)/gi)) urls.push((m[1] ?? m[2] ?? m[3] ?? '').trim());
  for (const m of css.matchAll(/@import\s+(?:"([^"]*)"|'([^']*)')/gi)) urls.push((m[1] ?? m[2] ?? '').trim());
  return urls;
}

/** Whether `reference`, resolved against the page, stays on `origin`. */
export function sameOrigin(reference: string, pageUrl: string, origin: string): boolean {
  const url = URL.parse(reference, pageUrl);
  return url !== null && url.origin === origin;
}

// ---------------------------------------------------------------------------------------------
// Headers

/** Content-Security-Policy directives by name (lower-cased), each with its source list. */
export function parseCsp(header: string | null): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/).filter(Boolean);
    if (name && !directives.has(name.toLowerCase())) directives.set(name.toLowerCase(), sources);
  }
  return directives;
}

export interface SetCookie {
  name: string;
  value: string;
  /** Attribute names lower-cased; flags map to ''. */
  attributes: Map<string, string>;
  raw: string;
}

export function parseSetCookies(headers: Headers): SetCookie[] {
  return headers.getSetCookie().map((raw) => {
    const [pair = '', ...rest] = raw.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const attributes = new Map<string, string>();
    for (const attribute of rest) {
      const at = attribute.indexOf('=');
      if (at < 0) attributes.set(attribute.toLowerCase(), '');
      else attributes.set(attribute.slice(0, at).trim().toLowerCase(), attribute.slice(at + 1).trim());
    }
    return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes, raw };
  });
}

/** A Set-Cookie that removes the cookie rather than setting it. */
export function isDeletion(cookie: SetCookie): boolean {
  const expires = cookie.attributes.get('expires');
  return cookie.value === '' || (expires !== undefined && Date.parse(expires) <= Date.now()) || cookie.attributes.get('max-age') === '0';
}

// ---------------------------------------------------------------------------------------------
// Records and flows

export const PASSWORD = 'correct horse battery';

export async function addUser(h: Harness, email: string) {
  const user = await h.management.accounts.create({ email, password: PASSWORD, name: email.split('@')[0] as string, emailVerified: true });
  return { id: user.id, email: user.email, password: PASSWORD };
}

let clientCounter = 0;

/** A fresh operator-created (verified) confidential client, so no test sees another's grants. */
export async function addClient(
  h: Harness,
  options: { name?: string; redirectUris?: string[]; scope?: string; resources?: string[]; logoUri?: string; clientUri?: string; policyUri?: string; tosUri?: string } = {},
) {
  clientCounter += 1;
  const created = await h.management.clients.add({
    name: options.name ?? `Pages test app ${clientCounter}`,
    redirectUris: options.redirectUris ?? [REDIRECT],
    scope: options.scope ?? 'openid profile email offline_access contacts:read',
    resources: options.resources ?? [CONTACTS],
    logoUri: options.logoUri,
    clientUri: options.clientUri,
    policyUri: options.policyUri,
    tosUri: options.tosUri,
  });
  await h.app.catalog.reload();
  const clientId = created.clientId;
  const clientSecret = created.clientSecret as string;
  return { clientId, clientSecret, config: await clientConfiguration(h, clientId, clientSecret) };
}

/**
 * openid-client's view of a confidential client. When the issuer is not the address the test
 * reaches (a server behind a simulated proxy), the endpoints are given by hand.
 */
export async function clientConfiguration(h: Harness, clientId: string, clientSecret: string): Promise<client.Configuration> {
  if (h.config.issuer !== h.issuer) {
    const metadata = { issuer: h.config.issuer, authorization_endpoint: `${h.issuer}/auth`, token_endpoint: `${h.issuer}/token` };
    const config = new client.Configuration(metadata, clientId, clientSecret, client.ClientSecretBasic(clientSecret));
    client.allowInsecureRequests(config);
    return config;
  }
  return client.discovery(new URL(h.issuer), clientId, clientSecret, client.ClientSecretBasic(clientSecret), {
    execute: [client.allowInsecureRequests],
  });
}

/** A client registered through POST /reg with an initial access token: unverified. */
export async function registerClient(h: Harness, metadata: Record<string, unknown>) {
  const iat = await new h.app.provider.InitialAccessToken({}).save();
  const response = await fetch(h.url('/reg'), {
    method: 'POST',
    headers: { authorization: `Bearer ${iat}`, 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [REDIRECT], resource_scopes: { [CONTACTS]: 'contacts:read' }, ...metadata }),
  });
  const body = (await response.json()) as Record<string, string>;
  if (response.status !== 201) throw new Error(`registration failed: ${response.status} ${JSON.stringify(body)}`);
  const clientId = body.client_id as string;
  const clientSecret = body.client_secret as string;
  return { clientId, clientSecret, config: await clientConfiguration(h, clientId, clientSecret), metadata: body };
}

/** The interaction uid of a page at /interaction/:uid. */
export function uidOf(pageUrl: string): string {
  const match = /\/interaction\/([^/?#]+)/.exec(new URL(pageUrl).pathname);
  if (!match?.[1]) throw new Error(`not an interaction page: ${pageUrl}`);
  return match[1];
}

export type Page = PageResponse;

/** Opens an authorization request in `agent` and follows it to the first page (or the client). */
export async function open(
  agent: UserAgent,
  config: client.Configuration,
  params: { scope: string; redirect_uri?: string; [name: string]: string | undefined },
): Promise<{ request: AuthorizationRequest; page: Page }> {
  const redirectUri = params.redirect_uri ?? REDIRECT;
  const request = await authorizationRequest(config, { ...params, redirect_uri: redirectUri });
  const page = await agent.follow(request.url.toString(), redirectUri);
  return { request, page };
}

/** Submits the form of `page` that posts to `…suffix`, with the page's CSRF token unless given. */
export async function submit(agent: UserAgent, page: Page, suffix: '/login' | '/consent' | '/abort', fields: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const action = new URL(formAction(page.body, suffix), page.url).toString();
  // The consent form sends its ticked scopes too, as a browser would (unless the test sets them).
  const defaults = suffix === '/consent' && !('scope' in fields) ? consentFields(page.body).filter(([name]) => name === 'scope') : [];
  const form: Array<[string, string]> = [['csrf', hiddenField(page.body, 'csrf')], ...defaults, ...Object.entries(fields)];
  return agent.request(action, { form, headers });
}

export function isLoginPage(page: Page): boolean {
  return page.status === 200 && /action="[^"]*\/login"/.test(page.body);
}

export function isConsentPage(page: Page): boolean {
  return page.status === 200 && /action="[^"]*\/consent"/.test(page.body);
}

/** From the login page, signs in and follows to the next page (consent) or the client. */
export async function signIn(agent: UserAgent, loginPage: Page, user: { email: string; password: string }, redirectUri = REDIRECT) {
  const posted = await submit(agent, loginPage, '/login', { email: user.email, password: user.password });
  if (posted.status !== 303 || !posted.location) throw new Error(`sign-in failed: ${posted.status} ${posted.body.slice(0, 200)}`);
  return { posted, next: await agent.follow(posted.location, redirectUri) };
}

/** Redeems the code in `callback` with openid-client (state and iss checked). */
export function redeem(config: client.Configuration, callback: string, request: AuthorizationRequest) {
  return client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: request.verifier, expectedState: request.state });
}

/** Live (unrevoked, unexpired) grants stored for this user and client. */
export async function grantsFor(h: Harness, accountId: string, clientId: string) {
  return findPayloads(h.db, createSealer(h.keys.data), 'Grant', { accountId, clientId });
}

/** The status, Location and HTML of a response, for failure messages. */
export function summary(page: Page): string {
  return `${page.status} ${page.location ?? ''} ${textOf(page.body).slice(0, 200)}`;
}
