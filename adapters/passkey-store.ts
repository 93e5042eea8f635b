// Storage of passkeys (WebAuthn credentials) and of the challenges of their ceremonies. The
// rules (who may add or remove one, what a ceremony must prove) live in
// server/services/passkeys.ts; this file only says them in SQL.
//
// Challenges live in the database, not in a process: a ceremony may start on one instance and
// finish on another. A challenge is used by deleting its row, so of two requests presenting the
// same signed challenge (a replay, a double submit) exactly one finds it.
import type { Knex } from 'knex';
import { isStorableText } from './storable-text.ts';

export interface StoredPasskey {
  /** Credential id, base64url. */
  id: string;
  accountId: string;
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  name: string;
  backedUp: boolean;
  createdAt: number;
  lastUsedAt: number | undefined;
}

interface PasskeyRow {
  id: string;
  account_id: string;
  public_key: string;
  counter: number | string;
  transports: string | null;
  name: string;
  backed_up: boolean | number;
  created_at: number | string;
  last_used_at: number | string | null;
}

const PASSKEYS = 'passkeys';
const CHALLENGES = 'webauthn_challenges';
/** Challenges kept per binding: a page opened in several tabs, a retried button; no more. */
const CHALLENGES_PER_BINDING = 5;

function toPasskey(row: PasskeyRow): StoredPasskey {
  return {
    id: row.id,
    accountId: row.account_id,
    publicKey: row.public_key,
    counter: Number(row.counter),
    transports: row.transports ? row.transports.split(' ').filter(Boolean) : [],
    name: row.name,
    backedUp: Boolean(row.backed_up),
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? undefined : Number(row.last_used_at),
  };
}

export class PasskeyStore {
  readonly #db: Knex;

  constructor(db: Knex) {
    this.#db = db;
  }

  async forAccount(accountId: string): Promise<StoredPasskey[]> {
    if (!isStorableText(accountId)) return [];
    const rows = await this.#db<PasskeyRow>(PASSKEYS).where({ account_id: accountId }).orderBy('created_at').orderBy('id');
    return rows.map(toPasskey);
  }

  async count(accountId: string): Promise<number> {
    if (!isStorableText(accountId)) return 0;
    const [row] = (await this.#db(PASSKEYS).where({ account_id: accountId }).count({ n: '*' })) as Array<{ n: number | string }>;
    return Number(row?.n ?? 0);
  }

  async find(id: string): Promise<StoredPasskey | undefined> {
    if (!isStorableText(id) || id.length > 1400) return undefined;
    const row = await this.#db<PasskeyRow>(PASSKEYS).where({ id }).first();
    return row ? toPasskey(row) : undefined;
  }

  async insert(passkey: Omit<StoredPasskey, 'lastUsedAt'>): Promise<void> {
    await this.#db(PASSKEYS).insert({
      id: passkey.id,
      account_id: passkey.accountId,
      public_key: passkey.publicKey,
      counter: passkey.counter,
      transports: passkey.transports.join(' ') || null,
      name: passkey.name,
      backed_up: passkey.backedUp,
      created_at: passkey.createdAt,
      last_used_at: null,
    });
  }

  /** Records a sign-in with it: the authenticator's new signature counter and the time. */
  async used(id: string, counter: number, at: number): Promise<void> {
    await this.#db(PASSKEYS).where({ id }).update({ counter, last_used_at: at });
  }

  /** Gives the account's passkey `id` a new name; false when the account has no such passkey. */
  async rename(accountId: string, id: string, name: string): Promise<boolean> {
    if (!isStorableText(id) || !isStorableText(accountId)) return false;
    return (await this.#db(PASSKEYS).where({ id, account_id: accountId }).update({ name })) > 0;
  }

  async remove(accountId: string, id: string): Promise<boolean> {
    if (!isStorableText(id)) return false;
    return (await this.#db(PASSKEYS).where({ id, account_id: accountId }).delete()) > 0;
  }

  /** Keeps a new challenge for `binding`; expired ones and a binding's oldest beyond a few go. */
  async addChallenge(challenge: string, binding: string, now: number, ttlMs: number): Promise<void> {
    await this.#db.transaction(async (trx) => {
      await trx(CHALLENGES).where('expires_at', '<=', now).delete();
      const older = await trx(CHALLENGES).where({ binding }).orderBy('created_at', 'desc').offset(CHALLENGES_PER_BINDING - 1).select('challenge');
      if (older.length) await trx(CHALLENGES).whereIn('challenge', older.map((row: { challenge: string }) => row.challenge)).delete();
      await trx(CHALLENGES).insert({ challenge, binding, created_at: now, expires_at: now + ttlMs });
    });
  }

  /** Uses the challenge up: true only for the one caller that found it live and bound to `binding`. */
  async takeChallenge(challenge: string, binding: string, now: number): Promise<boolean> {
    if (!isStorableText(challenge) || challenge.length > 64 || !isStorableText(binding)) return false;
    const deleted = await this.#db(CHALLENGES).where({ challenge, binding }).andWhere('expires_at', '>', now).delete();
    return deleted === 1;
  }
}
