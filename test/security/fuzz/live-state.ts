// Valid values the fuzzer mixes into its requests so that they get past the first checks: real
// client credentials, an authorization code redeemable with a known PKCE verifier, live tokens,
// interactions waiting at the login and consent prompts (with their cookies and CSRF values), a
// signed-in session with its logout form value, and a self-registered client with its
// registration access token. Obtained through the server's own HTTP flows, refreshed during the
// run (the fuzzer itself redeems codes, rotates tokens, finishes interactions and signs out).
import crypto from 'node:crypto';
import type { Fixtures } from '../../helpers/fixtures.ts';
import { CONTACTS, CALENDAR, REDIRECT } from '../../helpers/fixtures.ts';
import { completeInteraction } from '../../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent } from '../../helpers/user-agent.ts';
import type { RefName } from './values.ts';
import type { AdminCredential, ConcreteRequest } from './http.ts';
import { AdminState, type FuzzAdminClients } from './admin-state.ts';

export interface FuzzFixtures extends Fixtures {
  /** For POST /reg; without it registration is only fuzzed unauthenticated. */
  initialAccessToken?: string;
  /** Admin API clients; without them the admin API is only fuzzed without valid tokens. */
  admin?: FuzzAdminClients;
}

export const OTHER_REDIRECT = 'http://127.0.0.1:9999/other';
/** A fixed PKCE pair: every code the live state obtains is bound to this challenge. */
export const PKCE_VERIFIER = 'latchkey-fuzz-verifier-0123456789-abcdefghijklmnopqrstuv';
export const PKCE_CHALLENGE = crypto.createHash('sha256').update(PKCE_VERIFIER).digest('base64url');

interface Interaction {
  uid: string;
  csrf: string;
  agent: UserAgent;
  prompt: 'login' | 'consent';
}

interface Session {
  agent: UserAgent;
  xsrf?: string;
}

interface Registered {
  clientId: string;
  clientSecret?: string;
  rat: string;
}

export interface LiveStats {
  replenished: number;
  replenishFailures: string[];
  /** 5xx answers to the live state's own (valid) flows: server failures too. */
  serverErrors: Array<{ method: string; path: string; status: number; body: string }>;
}

/** Keeps the newest `max` values. */
function remember<T>(list: T[], value: T, max = 8) {
  list.push(value);
  if (list.length > max) list.shift();
}

function pick<T>(list: T[], slot: number): T | undefined {
  return list.length ? list[slot % list.length] : undefined;
}

export class LiveState {
  readonly interactions: Interaction[] = [];
  readonly sessions: Session[] = [];
  readonly codes: string[] = [];
  readonly accessTokens: string[] = [];
  readonly refreshTokens: string[] = [];
  readonly idTokens: string[] = [];
  readonly userinfoTokens: string[] = [];
  readonly clientCredentialsTokens: string[] = [];
  readonly registered: Registered[] = [];
  /** Redirect targets the server may legitimately send a browser to (fixtures + self-registered). */
  readonly registeredRedirects = new Set<string>([REDIRECT, OTHER_REDIRECT]);
  readonly stats: LiveStats = { replenished: 0, replenishFailures: [], serverErrors: [] };
  /** A self-registered (hence unverified) client: it always gets a consent prompt. Never given to the fuzzer. */
  #consentClient: string | undefined;
  /** The admin API's tokens, sacrificial records and ledger (admin-state.ts). */
  readonly admin: AdminState;

  constructor(
    readonly baseUrl: string,
    readonly fixtures: FuzzFixtures,
  ) {
    this.admin = new AdminState(
      {
        url: (path) => this.url(path),
        json: (url, init) => this.#fetchJson(url, init),
        publicClientGrant: async () => {
          await this.#codeWith(this.sessions.at(-1)?.agent ?? new UserAgent(), this.fixtures.spa.clientId, 'contacts:read');
        },
      },
      fixtures,
    );
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /** Everything the generators can refer to; called once before the run. */
  async prepare(): Promise<void> {
    try {
      await this.#registerClients();
      await this.#clientCredentials();
    } catch (error) {
      remember(this.stats.replenishFailures, (error as Error).message.slice(0, 200), 20);
    }
    await this.replenish();
    try {
      await this.admin.prepare();
    } catch (error) {
      remember(this.stats.replenishFailures, `admin API: ${(error as Error).message.slice(0, 200)}`, 20);
    }
    const adminMissing = this.fixtures.admin && (!this.admin.tokens.length || !this.admin.revokedTokens.length || !this.admin.removedTokens.length);
    if (!this.codes.length || !this.interactions.length || adminMissing) {
      throw new Error(`fuzz live state incomplete: ${this.stats.replenishFailures.join('; ')}`);
    }
  }

  async #registerClients(): Promise<void> {
    if (this.fixtures.initialAccessToken) {
      const consent = await this.#register({ client_name: 'Fuzz consent client', redirect_uris: [REDIRECT], resource_scopes: { [CONTACTS]: 'contacts:read' } });
      this.#consentClient = consent?.clientId;
      const exposed = await this.#register({
        client_name: 'Fuzz registered client',
        redirect_uris: [REDIRECT],
        post_logout_redirect_uris: ['https://app.example/logged-out'],
        resource_scopes: { [CONTACTS]: 'contacts:read' },
      });
      if (exposed) this.registered.push(exposed);
    }
  }

  /** Tops up what the run uses up: interactions, codes, a signed-in session. Never throws. */
  async replenish(): Promise<void> {
    this.stats.replenished += 1;
    const steps: Array<[string, () => Promise<void>]> = [
      ['session and tokens', () => this.#sessionWithTokens()],
      ['codes', () => this.#moreCodes(2)],
      ['login interaction', () => this.#loginInteraction()],
      ['login interaction', () => this.#loginInteraction()],
      ['consent interaction', () => this.#consentInteraction()],
      ['consent interaction', () => this.#consentInteraction()],
      ['admin API tokens and victims', () => this.admin.topUp()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        remember(this.stats.replenishFailures, `${name}: ${(error as Error).message.slice(0, 200)}`, 20);
      }
    }
  }

  /** Notes a 5xx answer to one of our own valid requests, and stops the step that got it. */
  #check<T extends { status: number; body: string }>(method: string, url: string, response: T): T {
    if (response.status >= 500) {
      remember(this.stats.serverErrors, { method, path: new URL(url).pathname, status: response.status, body: response.body.slice(0, 2000) }, 20);
      throw new Error(`${method} ${new URL(url).pathname} answered ${response.status}`);
    }
    return response;
  }

  async #fetchJson(url: string, init: RequestInit): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(url, init);
    const body = await response.text();
    this.#check(init.method ?? 'GET', url, { status: response.status, body });
    try {
      return { status: response.status, json: JSON.parse(body) as Record<string, unknown> };
    } catch {
      throw new Error(`${init.method ?? 'GET'} ${new URL(url).pathname}: ${response.status} not JSON: ${body.slice(0, 120)}`);
    }
  }

  /** The valid value for a reference; a plausible stand-in when the state has none. */
  resolve(ref: RefName, slot: number): string {
    const f = this.fixtures;
    const confidential = [f.reader, f.editor];
    switch (ref) {
      case 'client_id':
        return (pick(confidential, slot) ?? f.reader).clientId;
      case 'client_secret':
        return (pick(confidential, slot) ?? f.reader).clientSecret;
      case 'public_client_id':
        return f.spa.clientId;
      case 'service_client_id':
        return f.service.clientId;
      case 'rs_client_id':
        return (slot % 2 ? f.calendar : f.contacts).clientId;
      case 'dyn_client_id':
        return pick(this.registered, slot)?.clientId ?? 'dyn_missing';
      case 'redirect_uri':
        return REDIRECT;
      case 'other_redirect_uri':
        return OTHER_REDIRECT;
      case 'resource':
        return CONTACTS;
      case 'other_resource':
        return CALENDAR;
      case 'scope':
        return pick(['openid contacts:read', 'contacts:read', 'openid offline_access contacts:read', 'openid profile email contacts:read'], slot) as string;
      case 'code_challenge':
        return PKCE_CHALLENGE;
      case 'code_verifier':
        return PKCE_VERIFIER;
      case 'code':
        return pick(this.codes, slot) ?? 'no-code';
      case 'access_token':
        return pick(this.accessTokens, slot) ?? 'no-access-token';
      case 'refresh_token':
        return pick(this.refreshTokens, slot) ?? 'no-refresh-token';
      case 'id_token':
        return pick(this.idTokens, slot) ?? 'no.id.token';
      case 'userinfo_token':
        return pick(this.userinfoTokens, slot) ?? 'no-userinfo-token';
      case 'client_credentials_token':
        return pick(this.clientCredentialsTokens, slot) ?? 'no-cc-token';
      case 'initial_access_token':
        return f.initialAccessToken ?? 'no-initial-access-token';
      case 'registration_access_token':
        return pick(this.registered, slot)?.rat ?? 'no-rat';
      case 'interaction_uid':
        return pick(this.interactions, slot)?.uid ?? 'no-interaction';
      case 'csrf':
        return pick(this.interactions, slot)?.csrf ?? 'no-csrf';
      case 'logout_xsrf':
        return pick(this.sessions, slot)?.xsrf ?? 'no-xsrf';
      case 'email':
        return f.user.email;
      case 'password':
        return f.user.password;
      case 'issuer':
        return this.baseUrl;
      case 'user_id':
        return f.user.id;
      case 'admin_token':
      case 'admin_read_token':
      case 'admin_noscope_token':
      case 'admin_revoked_token':
      case 'admin_removed_token':
      case 'admin_client_id':
      case 'admin_resource_id':
      case 'victim_user_id':
      case 'victim_client_id':
      case 'victim_resource':
      case 'victim_grant_id':
        return this.admin.resolve(ref, slot) ?? ref;
    }
  }

  /**
   * A record the rest of the run stands on: the fixture user, clients and resource servers, the
   * self-registered clients, the admin clients. The fuzzer's admin API writes never name one
   * (http.ts points them at a victim instead).
   */
  isProtectedAdminId(text: string): boolean {
    const f = this.fixtures;
    const ids = [
      f.user.id,
      f.reader.clientId,
      f.editor.clientId,
      f.spa.clientId,
      f.service.clientId,
      f.contacts.clientId,
      f.calendar.clientId,
      f.contacts.id,
      f.calendar.id,
      ...this.registered.map((r) => r.clientId),
      ...(this.#consentClient ? [this.#consentClient] : []),
      ...this.admin.ownClientIds(),
    ];
    return ids.includes(text);
  }

  adminCredential(authorization: string | undefined): AdminCredential {
    return this.admin.credentialOf(authorization);
  }

  /** The secret that goes with the client `resolve('client_id', slot)` names. */
  secretFor(clientId: string): string | undefined {
    const f = this.fixtures;
    for (const c of [f.reader, f.editor, f.service, f.contacts, f.calendar]) if (c.clientId === clientId) return c.clientSecret;
    return this.registered.find((r) => r.clientId === clientId)?.clientSecret ?? this.admin.secretFor(clientId);
  }

  interactionAgent(slot: number): UserAgent | undefined {
    return pick(this.interactions, slot)?.agent;
  }

  sessionAgent(slot: number): UserAgent | undefined {
    return pick(this.sessions, slot)?.agent;
  }

  /**
   * Learns from a response what the fuzzer just changed: new tokens, a rotated registration
   * access token, a new self-registered client, a regenerated logout form value.
   */
  learn(request: ConcreteRequest, status: number, contentType: string, body: string): void {
    this.admin.learn(request, status);
    const path = request.path.split('?')[0] ?? '';
    let rotated = false;
    if (path === '/token' && status === 200 && request.body) {
      // A rotated refresh token is dead; presenting it again would revoke the whole grant (T14).
      const used = new URLSearchParams(request.body.toString('utf8')).get('refresh_token');
      const at = used ? this.refreshTokens.indexOf(used) : -1;
      if (at >= 0) this.refreshTokens.splice(at, 1);
      rotated = at >= 0;
    }
    if (contentType.includes('json') && status >= 200 && status < 300 && body.startsWith('{')) {
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return;
      }
      // Access tokens from any grant; refresh tokens only from a rotation of ours (the editor's).
      if (path === '/token') this.#rememberTokens(rotated ? json : { access_token: json.access_token });
      if (path.startsWith('/reg') && typeof json.client_id === 'string') {
        for (const field of ['redirect_uris', 'post_logout_redirect_uris']) {
          const uris = json[field];
          if (Array.isArray(uris)) for (const uri of uris) if (typeof uri === 'string') this.registeredRedirects.add(uri);
        }
        const existing = this.registered.find((r) => r.clientId === json.client_id);
        if (typeof json.registration_access_token === 'string') {
          if (existing) existing.rat = json.registration_access_token;
          else if (json.client_id !== this.#consentClient)
            remember(this.registered, { clientId: json.client_id, clientSecret: json.client_secret as string | undefined, rat: json.registration_access_token });
        }
      }
    }
    if (request.method === 'DELETE' && status === 204 && path.startsWith('/reg/')) {
      const index = this.registered.findIndex((r) => path === `/reg/${r.clientId}`);
      if (index >= 0) this.registered.splice(index, 1);
    }
    if (request.sessionSlot !== undefined && path === '/session/end' && contentType.includes('html')) {
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(body)?.[1];
      const session = pick(this.sessions, request.sessionSlot);
      if (xsrf && session) session.xsrf = xsrf;
    }
  }

  #rememberTokens(json: Record<string, unknown>) {
    if (typeof json.access_token === 'string') remember(this.accessTokens, json.access_token);
    if (typeof json.refresh_token === 'string') remember(this.refreshTokens, json.refresh_token);
    if (typeof json.id_token === 'string') remember(this.idTokens, json.id_token);
  }

  async #register(metadata: Record<string, unknown>): Promise<Registered | undefined> {
    const response = await this.#fetchJson(this.url('/reg'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.fixtures.initialAccessToken}` },
      body: JSON.stringify(metadata),
    });
    const json = response.json as Record<string, string>;
    if (response.status !== 201 || !json.client_id || !json.registration_access_token) {
      remember(this.stats.replenishFailures, `registration: ${response.status} ${JSON.stringify(json).slice(0, 200)}`, 20);
      return undefined;
    }
    for (const uri of [...(metadata.redirect_uris as string[]), ...((metadata.post_logout_redirect_uris as string[] | undefined) ?? [])]) {
      this.registeredRedirects.add(uri);
    }
    return { clientId: json.client_id, clientSecret: json.client_secret, rat: json.registration_access_token };
  }

  #authUrl(clientId: string, scope: string): string {
    const params = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope,
      state: crypto.randomBytes(6).toString('base64url'),
      code_challenge: PKCE_CHALLENGE,
      code_challenge_method: 'S256',
    });
    return this.url(`/auth?${params}`);
  }

  /**
   * A signed-in session and live tokens. The tokens belong to the editor client and the codes
   * (below) to the reader, so that the fuzzer replaying a reader code (which revokes that grant,
   * T8) does not also kill the refresh tokens it is fuzzing with.
   */
  async #sessionWithTokens() {
    const agent = new UserAgent();
    const { editor } = this.fixtures;
    const apiTokens = await this.#exchange(editor, await this.#codeWith(agent, editor.clientId, 'openid offline_access contacts:read'));
    this.#rememberTokens(apiTokens);
    // Tokens for a resource server are not valid at userinfo: one for the OpenID scopes only.
    const userinfo = await this.#exchange(editor, await this.#codeWith(agent, editor.clientId, 'openid email'));
    if (typeof userinfo.access_token === 'string') remember(this.userinfoTokens, userinfo.access_token);
    if (typeof userinfo.id_token === 'string') remember(this.idTokens, userinfo.id_token);
    const logout = this.#check('GET', this.url('/session/end'), await agent.request(this.url('/session/end')));
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(logout.body)?.[1];
    remember(this.sessions, { agent, xsrf }, 4);
  }

  async #exchange(client: { clientId: string; clientSecret: string }, code: string): Promise<Record<string, unknown>> {
    const { status, json } = await this.#fetchJson(this.url('/token'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: PKCE_VERIFIER }),
    });
    if (status !== 200) throw new Error(`code exchange: ${status} ${JSON.stringify(json).slice(0, 200)}`);
    return json;
  }

  /** Reader codes from the newest signed-in session (consent is asked once per session). */
  async #moreCodes(count: number) {
    for (let i = 0; i < count; i += 1) {
      const agent = this.sessions.at(-1)?.agent ?? new UserAgent();
      remember(this.codes, await this.#codeWith(agent, this.fixtures.reader.clientId, 'openid offline_access contacts:read'));
    }
  }

  /** Through login and consent as far as they are asked; returns the code. */
  async #codeWith(agent: UserAgent, clientId: string, scope: string): Promise<string> {
    const start = this.#authUrl(clientId, scope);
    const final = this.#check('GET', start, await this.#retryThrottled(() => completeInteraction(agent, start, REDIRECT, this.fixtures.user)));
    const code = final.location?.startsWith(REDIRECT) ? new URL(final.location).searchParams.get('code') : null;
    if (!code) throw new Error(`no code: ${final.status} ${final.location ?? final.body.slice(0, 200)}`);
    return code;
  }

  async #loginInteraction() {
    const agent = new UserAgent();
    const start = this.#authUrl(this.fixtures.reader.clientId, 'openid contacts:read');
    const page = this.#check('GET', start, await agent.follow(start, REDIRECT));
    remember(this.interactions, { ...this.#interactionOn(page.body, '/login'), agent, prompt: 'login' });
  }

  async #consentInteraction() {
    const f = this.fixtures;
    const agent = new UserAgent();
    const clientId = this.#consentClient ?? f.editor.clientId;
    const start = this.#authUrl(clientId, 'openid contacts:read');
    const page = this.#check('GET', start, await agent.follow(start, REDIRECT));
    const login = this.#interactionOn(page.body, '/login');
    const action = this.url(`/interaction/${login.uid}/login`);
    const posted = this.#check(
      'POST',
      action,
      await this.#retryThrottled(() => agent.request(action, { form: { csrf: login.csrf, email: f.user.email, password: f.user.password } })),
    );
    if (posted.status !== 303 || !posted.location) throw new Error(`login: ${posted.status}`);
    const consent = this.#check('GET', posted.location, await agent.follow(posted.location, REDIRECT));
    remember(this.interactions, { ...this.#interactionOn(consent.body, '/consent'), agent, prompt: 'consent' });
  }

  #interactionOn(html: string, action: string): { uid: string; csrf: string } {
    const uid = /\/interaction\/([^/"]+)\//.exec(formAction(html, action))?.[1];
    if (!uid) throw new Error(`no ${action} form`);
    return { uid, csrf: hiddenField(html, 'csrf') };
  }

  async #clientCredentials() {
    const f = this.fixtures;
    const { status, json } = await this.#fetchJson(this.url('/token'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${f.service.clientId}:${f.service.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'contacts:read', resource: CONTACTS }),
    });
    if (typeof json.access_token === 'string') remember(this.clientCredentialsTokens, json.access_token);
    else remember(this.stats.replenishFailures, `client credentials: ${status}`, 20);
  }

  /** The fuzzer's wrong passwords put the user into login back-off; wait it out (kept short by the run's settings). */
  async #retryThrottled<T extends { status: number; headers: Headers }>(attempt: () => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries += 1) {
      const result = await attempt();
      if (result.status !== 429 || tries >= 3) return result;
      const wait = Math.min(Number(result.headers.get('retry-after') ?? '1'), 5);
      await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 50));
    }
  }
}
