// The admin API's part of the live state: tokens of every kind the fuzzer presents (a live
// latchkey:admin token, a live latchkey:admin.read token of a read-only admin client, a token
// without either scope, a revoked one, one of an admin client since removed), the sacrificial
// records writes go to (users, clients, resource servers, grants; re-made as the run uses them
// up), and the ledger behind the run's last oracle: users and resource servers are only ever
// created or removed by an admin API answer the fuzzer saw succeed with a latchkey:admin token,
// and no audit event names the read-only, revoked or removed admin client as the one that made
// a change.
import type { FuzzFixtures } from './live-state.ts';
import type { AdminCredential, ConcreteRequest } from './http.ts';
import { ADMIN_API_PREFIX, adminRouteOf } from './admin-requests.ts';

export interface AdminClientCredentials {
  clientId: string;
  clientSecret: string;
}

/** Admin clients made by the operator's path (target.ts) before the run. */
export interface FuzzAdminClients {
  /** `--admin`: both scopes. */
  full: AdminClientCredentials;
  /** `--admin --scope latchkey:admin.read`. */
  read: AdminClientCredentials;
  /** Its one token is revoked before the run; it is never used otherwise. */
  revocable: AdminClientCredentials;
}

/** How the admin state reaches the server: the live state's own requests (a 5xx there is a finding too). */
export interface Requester {
  url(path: string): string;
  json(url: string, init: RequestInit): Promise<{ status: number; json: Record<string, unknown> }>;
  /** A fresh grant of the public fixture client on the newest signed-in session. */
  publicClientGrant(): Promise<void>;
}

export interface AdminLedger {
  /** Users and resource servers the run created or removed, by answers it saw. */
  users: number;
  resources: number;
  /** Writes with a latchkey:admin token that got no answer: the counts cannot be checked then. */
  unanswered: number;
}

function remember<T>(list: T[], value: T, max = 4) {
  list.push(value);
  if (list.length > max) list.shift();
}

function pick<T>(list: T[], slot: number): T | undefined {
  return list.length ? list[slot % list.length] : undefined;
}

const basic = (c: AdminClientCredentials) => `Basic ${Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString('base64')}`;

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export class AdminState {
  readonly tokens: string[] = [];
  readonly readTokens: string[] = [];
  readonly noscopeTokens: string[] = [];
  readonly revokedTokens: string[] = [];
  readonly removedTokens: string[] = [];
  readonly victims = { users: [] as string[], clients: [] as string[], resources: [] as string[], grants: [] as string[] };
  readonly ledger: AdminLedger = { users: 0, resources: 0, unanswered: 0 };
  #removedClient: string | undefined;
  #baseline: { users: number; resources: number } | undefined;
  #auditSeen = 0;
  #made = 0;

  private readonly clients: FuzzAdminClients | undefined;

  constructor(
    private readonly http: Requester,
    private readonly fixtures: FuzzFixtures,
  ) {
    this.clients = fixtures.admin;
  }

  get resourceId(): string {
    return this.http.url('/admin');
  }

  /** Everything above, once before the run. */
  async prepare(): Promise<void> {
    const c = this.clients;
    if (!c) return;
    await this.topUp();
    if (!this.tokens.length || !this.readTokens.length) throw new Error('no admin tokens');
    // The client credentials grant naming only the resource: a token for the admin API with neither scope.
    const noscope = await this.#token(c.full, undefined);
    if (noscope) remember(this.noscopeTokens, noscope);
    const revoked = await this.#token(c.revocable, 'latchkey:admin');
    if (revoked) {
      const answer = await fetch(this.http.url('/token/revocation'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c.revocable) },
        body: new URLSearchParams({ token: revoked }),
      });
      if (answer.status !== 200) throw new Error(`revoking an admin token: ${answer.status}`);
      remember(this.revokedTokens, revoked);
    }
    // An admin client made through the admin API, its token, then the client removed.
    const made = await this.#admin('POST', '/clients', { client_name: 'Fuzz removed admin client', admin: true });
    const removed = { clientId: String(made.client_id), clientSecret: String(made.client_secret) };
    const token = await this.#token(removed, 'latchkey:admin');
    await this.#admin('DELETE', `/clients/${encodeURIComponent(removed.clientId)}`);
    this.#removedClient = removed.clientId;
    if (token) remember(this.removedTokens, token);
    this.#baseline = await this.#counts();
  }

  /** Fresh tokens (they live five minutes), and victims for those the run used up. */
  async topUp(): Promise<void> {
    const c = this.clients;
    if (!c) return;
    const full = await this.#token(c.full, 'latchkey:admin');
    if (full) remember(this.tokens, full);
    const read = await this.#token(c.read, 'latchkey:admin.read');
    if (read) remember(this.readTokens, read);
    while (this.victims.users.length < 2) {
      const user = await this.#admin('POST', '/users', { email: `victim-${this.#nonce()}@example.com`, password: 'victim password long enough' });
      this.victims.users.push(String(user.id));
      if (this.#baseline) this.ledger.users += 1;
    }
    while (this.victims.clients.length < 2) {
      const made = await this.#admin('POST', '/clients', { client_name: `Victim ${this.#nonce()}`, redirect_uris: ['http://127.0.0.1:9999/cb'] });
      this.victims.clients.push(String(made.client_id));
    }
    while (this.victims.resources.length < 2) {
      const made = await this.#admin('POST', '/resources', { id: `https://victim-${this.#nonce()}.api.test`, scopes: [{ scope: 'victim:read' }] });
      this.victims.resources.push(String(made.id));
      if (this.#baseline) this.ledger.resources += 1;
    }
    if (this.victims.grants.length < 2) {
      await this.http.publicClientGrant();
      const listed = await this.#admin('GET', `/grants?user=${encodeURIComponent(this.fixtures.user.email)}`);
      const spa = (listed.grants as Array<{ grant_id: string; client_id: string }>).filter((g) => g.client_id === this.fixtures.spa.clientId);
      this.victims.grants.splice(0, this.victims.grants.length, ...spa.map((g) => g.grant_id).slice(-4));
    }
  }

  #nonce(): string {
    this.#made += 1;
    return `${process.pid}-${Date.now().toString(36)}-${this.#made}`;
  }

  async #token(client: AdminClientCredentials, scope: string | undefined): Promise<string | undefined> {
    const { status, json } = await this.http.json(this.http.url('/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: this.resourceId, ...(scope ? { scope } : {}) }),
    });
    if (status !== 200 || typeof json.access_token !== 'string') throw new Error(`admin token (${scope ?? 'no scope'}): ${status} ${JSON.stringify(json).slice(0, 200)}`);
    return json.access_token;
  }

  /** A request of the live state's own with the newest latchkey:admin token; anything but 2xx throws. */
  async #admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const token = this.tokens.at(-1);
    const url = this.http.url(`${ADMIN_API_PREFIX}${path}`);
    const answer =
      method === 'DELETE'
        ? await fetch(url, { method, headers: { authorization: `Bearer ${token}` } }).then(async (r) => ({ status: r.status, json: { text: await r.text() } as Record<string, unknown> }))
        : await this.http.json(url, {
            method,
            headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
    if (answer.status < 200 || answer.status >= 300) throw new Error(`${method} ${ADMIN_API_PREFIX}${path}: ${answer.status} ${JSON.stringify(answer.json).slice(0, 200)}`);
    return answer.json;
  }

  /** The admin API's value for a reference (values.ts RefName), if it is one of its own. */
  resolve(ref: string, slot: number): string | undefined {
    switch (ref) {
      case 'admin_token':
        return pick(this.tokens, slot) ?? 'no-admin-token';
      case 'admin_read_token':
        return pick(this.readTokens, slot) ?? 'no-admin-read-token';
      case 'admin_noscope_token':
        return pick(this.noscopeTokens, slot) ?? 'no-admin-noscope-token';
      case 'admin_revoked_token':
        return pick(this.revokedTokens, slot) ?? 'no-admin-revoked-token';
      case 'admin_removed_token':
        return pick(this.removedTokens, slot) ?? 'no-admin-removed-token';
      case 'admin_client_id':
        return this.clients?.full.clientId ?? 'no-admin-client';
      case 'admin_resource_id':
        return this.resourceId;
      case 'victim_user_id':
        return pick(this.victims.users, slot) ?? 'no-victim-user';
      case 'victim_client_id':
        return pick(this.victims.clients, slot) ?? 'no-victim-client';
      case 'victim_resource':
        return pick(this.victims.resources, slot) ?? 'https://no-victim.api.test';
      case 'victim_grant_id':
        return pick(this.victims.grants, slot) ?? 'no-victim-grant';
      default:
        return undefined;
    }
  }

  secretFor(clientId: string): string | undefined {
    const c = this.clients;
    return c ? [c.full, c.read, c.revocable].find((x) => x.clientId === clientId)?.clientSecret : undefined;
  }

  /** Ids of the admin clients themselves: never written to by the fuzzer. */
  ownClientIds(): string[] {
    const c = this.clients;
    return [...(c ? [c.full.clientId, c.read.clientId, c.revocable.clientId] : []), ...(this.#removedClient ? [this.#removedClient] : [])];
  }

  credentialOf(authorization: string | undefined): AdminCredential {
    if (authorization === undefined) return 'none';
    const token = authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined;
    if (token === undefined) return 'other';
    if (this.tokens.includes(token)) return 'admin';
    if (this.readTokens.includes(token)) return 'read';
    if (this.noscopeTokens.includes(token)) return 'noscope';
    if (this.revokedTokens.includes(token)) return 'revoked';
    if (this.removedTokens.includes(token)) return 'removed';
    return 'other';
  }

  /** Keeps the ledger and the victim lists in step with what the fuzzer's admin requests did. */
  learn(request: ConcreteRequest, status: number | undefined): void {
    if (!request.admin?.route) return;
    const { operationId, access } = request.admin.route;
    if (status === undefined) {
      if (access === 'write' && request.admin.credential === 'admin') this.ledger.unanswered += 1;
      return;
    }
    const pathname = request.path.split('?')[0] ?? '';
    const id = safeDecode(pathname.slice(pathname.lastIndexOf('/') + 1));
    const drop = (list: string[]) => {
      const at = list.indexOf(id);
      if (at >= 0) list.splice(at, 1);
    };
    if (status === 201 && operationId === 'createUser') this.ledger.users += 1;
    if (status === 201 && operationId === 'createResource') this.ledger.resources += 1;
    if (status === 204 && operationId === 'deleteResource') {
      this.ledger.resources -= 1;
      drop(this.victims.resources);
    }
    if (status === 204 && operationId === 'deleteClient') drop(this.victims.clients);
    if (status === 204 && operationId === 'revokeGrant') drop(this.victims.grants);
  }

  async #counts(): Promise<{ users: number; resources: number }> {
    let users = 0;
    let after: string | undefined;
    do {
      const page = await this.#admin('GET', `/users?limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      users += (page.users as unknown[]).length;
      after = (page.next_cursor as string | null) ?? undefined;
    } while (after);
    const resources = ((await this.#admin('GET', '/resources')).resources as unknown[]).length;
    return { users, resources };
  }

  /**
   * The run's changes, checked once nothing is in flight: the users and resource servers there are
   * are the ones before the run plus what the answers the fuzzer saw created or removed, and no
   * audit event since the last check was made by an admin client whose tokens may not write.
   */
  async verify(): Promise<string[]> {
    if (!this.clients || !this.#baseline) return [];
    const problems: string[] = [];
    // The tokens of the last top-up may be minutes old by now.
    const full = await this.#token(this.clients.full, 'latchkey:admin');
    if (full) remember(this.tokens, full);
    if (this.ledger.unanswered === 0) {
      const now = await this.#counts();
      const expected = { users: this.#baseline.users + this.ledger.users, resources: this.#baseline.resources + this.ledger.resources };
      if (now.users !== expected.users) problems.push(`${now.users} users, where the answers seen account for ${expected.users}`);
      if (now.resources !== expected.resources) problems.push(`${now.resources} resource servers, where the answers seen account for ${expected.resources}`);
    }
    const barred = new Set([this.clients.read.clientId, this.clients.revocable.clientId, ...(this.#removedClient ? [this.#removedClient] : [])]);
    let newest = this.#auditSeen;
    let before: number | undefined;
    for (let pages = 0; pages < 200; pages += 1) {
      const page = await this.#admin('GET', `/audit?limit=500${before ? `&before=${before}` : ''}`);
      const events = page.events as Array<{ id: number; event: string; client_id: string | null; details: Record<string, unknown> }>;
      const fresh = events.filter((e) => e.id > this.#auditSeen);
      for (const e of fresh) {
        newest = Math.max(newest, e.id);
        const by = e.details.admin_client;
        if (typeof by === 'string' && barred.has(by)) problems.push(`audit event ${e.id} ${e.event} was made by ${by}, an admin client whose tokens may not write`);
        if (e.details.via === 'admin_api' && by !== this.clients.full.clientId) problems.push(`audit event ${e.id} ${e.event} via the admin API names ${JSON.stringify(by)}, not the one admin client with latchkey:admin tokens`);
      }
      if (fresh.length < events.length || page.next_cursor === null) break;
      before = Number(page.next_cursor);
    }
    this.#auditSeen = newest;
    return problems;
  }
}
