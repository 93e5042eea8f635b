// End-user accounts: creation, password login and the claims oidc-provider releases.
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { batchedLookup } from '../db/batched-lookup.ts';
import { isStorableText, storableOnly } from '../../adapters/storable-text.ts';
import { takePrefetchedUser, type PrefetchedUser } from '../../adapters/request-scope.ts';
import { isUniqueViolation } from '../../adapters/rows.ts';
import { dummyPasswordHash, hashPassword, verifyPassword } from './passwords.ts';
import { ServiceError } from './errors.ts';

export interface User {
  id: string;
  email: string;
  name: string | null;
  emailVerified: boolean;
  createdAt: number;
  disabled: boolean;
}

/** A `users` row: what a token read brings along (PrefetchedUser), and the password hash. */
interface UserRow extends PrefetchedUser {
  password_hash: string;
}

export class AccountError extends ServiceError {
  override name = 'AccountError';
}

// No whitespace or control characters (NUL included: PostgreSQL cannot store it).
const EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;
export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 1024;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** A display name: trimmed, storable, no control characters, at most 200 characters. */
function plainName(name: string | undefined): string | null {
  const text = name?.trim();
  if (!text) return null;
  if (!isStorableText(text) || /\p{Cc}/u.test(text) || text.length > 200) throw new AccountError('the name must be plain text of at most 200 characters', 'invalid', 'name');
  return text;
}

function toUser(row: PrefetchedUser): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: Boolean(row.email_verified),
    createdAt: Number(row.created_at),
    disabled: row.disabled_at !== null && row.disabled_at !== undefined,
  };
}

export interface NewUser {
  email: string;
  password: string;
  name?: string | undefined;
  emailVerified?: boolean | undefined;
}

export function createAccounts(db: Knex, now: () => number = Date.now) {
  /** A value that cannot be stored matches no row (adapters/storable-text.ts). */
  async function findRow(where: Pick<UserRow, 'email'>) {
    if (!isStorableText(where.email)) return undefined;
    return db<UserRow>('users').where(where).first();
  }
  // Every refresh reads its user (a disabled user ends it): concurrent ones share a statement.
  const findRowById = batchedLookup(async (ids) => {
    const rows = await db<UserRow>('users').whereIn('id', storableOnly(ids));
    return new Map(rows.map((row) => [row.id, row]));
  });

  return {
    async create({ email, password, name, emailVerified = false }: NewUser): Promise<User> {
      const normalized = normalizeEmail(email);
      if (!EMAIL.test(normalized) || !isStorableText(normalized) || normalized.length > 320) throw new AccountError(`not an email address: ${email}`, 'invalid', 'email');
      if (password.length < MIN_PASSWORD_LENGTH) {
        throw new AccountError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`, 'invalid', 'password');
      }
      if (password.length > MAX_PASSWORD_LENGTH) throw new AccountError('the password is too long', 'invalid', 'password');
      if (await findRow({ email: normalized })) throw new AccountError(`a user with email ${normalized} already exists`, 'conflict', 'email');
      const row: UserRow = {
        // Users' subject identifiers are UUIDs, a namespace no client id can take (RFC 9700 §4.15).
        id: crypto.randomUUID(),
        email: normalized,
        name: plainName(name),
        email_verified: emailVerified,
        password_hash: await hashPassword(password),
        created_at: now(),
        disabled_at: null,
      };
      try {
        await db('users').insert(row);
      } catch (error) {
        if (isUniqueViolation(error)) throw new AccountError(`a user with email ${normalized} already exists`, 'conflict', 'email');
        throw error;
      }
      return toUser(row);
    },

    async findById(id: string): Promise<User | undefined> {
      if (typeof id !== 'string') return undefined;
      // Read with the token this request presented, in the same statement (payload-reader.ts).
      const prefetched = takePrefetchedUser(id);
      const row = prefetched ? prefetched.value : await findRowById(id);
      return row ? toUser(row) : undefined;
    },

    async findByEmail(email: string): Promise<User | undefined> {
      const row = await findRow({ email: normalizeEmail(email) });
      return row ? toUser(row) : undefined;
    },

    /** The user for these credentials, or undefined; same work whether or not the email exists. */
    async authenticate(email: string, password: string): Promise<User | undefined> {
      const row = email.length <= 320 && password.length <= MAX_PASSWORD_LENGTH ? await findRow({ email: normalizeEmail(email) }) : undefined;
      const hash = row?.password_hash ?? (await dummyPasswordHash);
      const valid = await verifyPassword(password.slice(0, MAX_PASSWORD_LENGTH), hash);
      if (!row || !valid || row.disabled_at !== null) return undefined;
      return toUser(row);
    },

    /** One page in id order: the first `limit` users after `after` (or the one with `email`). */
    async page({ after, limit, email }: { after?: string | undefined; limit: number; email?: string | undefined }): Promise<User[]> {
      if (email !== undefined) {
        const row = await findRow({ email: normalizeEmail(email) });
        return row && (after === undefined || row.id > after) ? [toUser(row)] : [];
      }
      if (after !== undefined && !isStorableText(after)) return [];
      const query = db<UserRow>('users').orderBy('id', 'asc').limit(limit);
      if (after !== undefined) query.where('id', '>', after);
      return (await query).map(toUser);
    },

    async setDisabled(id: string, disabled: boolean): Promise<boolean> {
      if (!isStorableText(id)) return false;
      return (await db('users').where({ id }).update({ disabled_at: disabled ? now() : null })) > 0;
    },
  };
}

export type Accounts = ReturnType<typeof createAccounts>;

/** Standard claims for a user, keyed by the scope that releases them (OpenID Connect Core §5.4). */
export function claimsFor(user: User, scopes: Set<string>): Record<string, unknown> {
  const claims: Record<string, unknown> = { sub: user.id };
  if (scopes.has('profile')) claims.name = user.name ?? undefined;
  if (scopes.has('email')) {
    claims.email = user.email;
    claims.email_verified = user.emailVerified;
  }
  return claims;
}
