// The clients table: every OAuth client, whoever created it (seed, CLI or RFC 7591 registration).
// oidc-provider reads and writes it through `adapter()`; operators through the CLI.
// Secrets are sealed at rest with the data key; RFC 7592 reads can still return them.
import type { Knex } from 'knex';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Sealer } from './at-rest.ts';
import { isStorableText } from './storable-text.ts';

export type ClientKind = 'app' | 'resource_server';
export type ClientSource = 'seed' | 'cli' | 'admin_api' | 'dynamic' | 'system';

export interface ClientRecord {
  clientId: string;
  /** RFC 7591 metadata, without `client_secret`. */
  metadata: Record<string, unknown>;
  hasSecret: boolean;
  kind: ClientKind;
  source: ClientSource;
  verified: boolean;
  createdAt: number;
}

interface ClientRow {
  client_id: string;
  metadata: string;
  secret_sealed: string | null;
  kind: ClientKind;
  source: ClientSource;
  verified: boolean | number;
  created_at: number;
}

export interface NewClient {
  metadata: Record<string, unknown> & { client_id: string };
  kind: ClientKind;
  source: ClientSource;
  verified: boolean;
}

export class ClientStore {
  readonly #db: Knex;
  readonly #sealer: Sealer;
  readonly #now: () => number;

  constructor(db: Knex, sealer: Sealer, now: () => number = Date.now) {
    this.#db = db;
    this.#sealer = sealer;
    this.#now = now;
  }

  #secretAad(clientId: string) {
    return `Client:${clientId}`;
  }

  #split(metadata: Record<string, unknown>) {
    const { client_secret: secret, ...rest } = metadata;
    const sealed = typeof secret === 'string' ? this.#sealer.seal(secret, this.#secretAad(String(metadata.client_id))) : null;
    return { rest, sealed };
  }

  #toRecord(row: ClientRow): ClientRecord {
    return {
      clientId: row.client_id,
      metadata: JSON.parse(row.metadata) as Record<string, unknown>,
      hasSecret: row.secret_sealed !== null,
      kind: row.kind,
      source: row.source,
      verified: Boolean(row.verified),
      createdAt: Number(row.created_at),
    };
  }

  /** Full provider-facing metadata, with the secret opened. */
  async findMetadata(clientId: string): Promise<AdapterPayload | undefined> {
    if (!isStorableText(clientId)) return undefined;
    const row = await this.#db<ClientRow>('clients').where({ client_id: clientId }).first();
    if (!row) return undefined;
    const metadata = JSON.parse(row.metadata) as AdapterPayload;
    if (row.secret_sealed) {
      try {
        metadata.client_secret = this.#sealer.open(row.secret_sealed, this.#secretAad(clientId));
      } catch {
        return undefined;
      }
    }
    return metadata;
  }

  async get(clientId: string): Promise<ClientRecord | undefined> {
    if (!isStorableText(clientId)) return undefined;
    const row = await this.#db<ClientRow>('clients').where({ client_id: clientId }).first();
    return row ? this.#toRecord(row) : undefined;
  }

  async list(): Promise<ClientRecord[]> {
    const rows = await this.#db<ClientRow>('clients').orderBy('created_at', 'asc').orderBy('client_id', 'asc');
    return rows.map((row) => this.#toRecord(row));
  }

  /** One page in client id order: the first `limit` clients after `after`. */
  async page({ after, limit }: { after?: string | undefined; limit: number }): Promise<ClientRecord[]> {
    if (after !== undefined && !isStorableText(after)) return [];
    const query = this.#db<ClientRow>('clients').orderBy('client_id', 'asc').limit(limit);
    if (after !== undefined) query.where('client_id', '>', after);
    return (await query).map((row) => this.#toRecord(row));
  }

  async insert(client: NewClient, transaction: Knex = this.#db): Promise<void> {
    const { rest, sealed } = this.#split(client.metadata);
    const now = this.#now();
    await transaction('clients').insert({
      client_id: client.metadata.client_id,
      metadata: JSON.stringify(rest),
      secret_sealed: sealed,
      kind: client.kind,
      source: client.source,
      verified: client.verified,
      created_at: now,
      updated_at: now,
    });
  }

  /** Removes the client and everything issued to it: its grants, tokens, codes and sessions' links. */
  async remove(clientId: string): Promise<boolean> {
    if (!isStorableText(clientId)) return false;
    return this.#db.transaction(async (trx) => {
      // Its JWT access tokens are recalled (their status list bits, status-list-store.ts): found
      // through its grants, whose grant_id column is the digest the entries hold.
      await trx.raw(
        `UPDATE status_list_entries SET status = 1 WHERE status = 0 AND grant_id IN (SELECT grant_id FROM oidc_payloads WHERE model = 'Grant' AND client_id = ?)`,
        [clientId],
      );
      await trx('oidc_payloads').where({ client_id: clientId }).delete();
      return (await trx('clients').where({ client_id: clientId }).delete()) > 0;
    });
  }

  /** Creates or refreshes a client the server itself needs (its metadata follows the configuration). */
  async ensureSystemClient(metadata: Record<string, unknown> & { client_id: string }): Promise<void> {
    const now = this.#now();
    await this.#db('clients')
      .insert({ client_id: metadata.client_id, metadata: JSON.stringify(metadata), secret_sealed: null, kind: 'app', source: 'system', verified: true, created_at: now, updated_at: now })
      .onConflict('client_id')
      .merge(['metadata', 'updated_at']);
  }

  /** Sets the grant types in a client's stored metadata (a resource server that may exchange tokens). */
  async setGrantTypes(clientId: string, grantTypes: string[], transaction: Knex = this.#db): Promise<void> {
    const row = await transaction<ClientRow>('clients').where({ client_id: clientId }).first();
    if (!row) return;
    const metadata = { ...(JSON.parse(row.metadata) as Record<string, unknown>), grant_types: grantTypes };
    await transaction('clients').where({ client_id: clientId }).update({ metadata: JSON.stringify(metadata), updated_at: this.#now() });
  }

  async setVerified(clientId: string, verified: boolean): Promise<boolean> {
    if (!isStorableText(clientId)) return false;
    return (await this.#db('clients').where({ client_id: clientId }).update({ verified, updated_at: this.#now() })) > 0;
  }

  /** Writes from the provider: dynamic registration (RFC 7591) and management updates (RFC 7592). */
  async #upsertFromProvider(clientId: string, metadata: AdapterPayload): Promise<void> {
    const { rest, sealed } = this.#split({ ...metadata, client_id: clientId });
    const now = this.#now();
    await this.#db('clients')
      .insert({
        client_id: clientId,
        metadata: JSON.stringify(rest),
        secret_sealed: sealed,
        kind: 'app',
        source: 'dynamic',
        verified: false,
        created_at: now,
        updated_at: now,
      })
      // An update keeps who created the client and whether an operator verified it.
      .onConflict('client_id')
      .merge(['metadata', 'secret_sealed', 'updated_at']);
  }

  adapter(): Adapter {
    const unsupported = async () => undefined;
    return {
      upsert: (id, payload) => this.#upsertFromProvider(id, payload),
      find: (id) => (typeof id === 'string' && id.length > 0 ? this.findMetadata(id) : Promise.resolve(undefined)),
      destroy: async (id) => {
        await this.remove(id);
      },
      findByUid: unsupported,
      findByUserCode: unsupported,
      consume: unsupported,
      revokeByGrantId: unsupported,
    };
  }
}
