// Users for the workloads that sign in (W3, W4), inserted straight into the target's database.
import crypto from 'node:crypto';
import { parseDatabaseUrl } from '../server/config/env.ts';
import { createDatabase } from '../server/db/knex.ts';
import { hashPassword } from '../server/services/passwords.ts';
import type { Target } from './target.ts';

export interface Users {
  next(): { email: string; password: string };
}

/**
 * A scrypt hash in the format server/services/passwords.ts stores and reads (parameters
 * included) at 1/96 of its cost (N=2^10, p=1 against 2^15 and 3). For W3, which signs its users
 * in only to start their refresh chains: at full cost those sign-ins were most of a smoke run's
 * time. W4 measures the sign-in and keeps the full cost.
 */
function cheapPasswordHash(password: string): string {
  const salt = crypto.randomBytes(16);
  const key = crypto.scryptSync(password.normalize('NFKC'), salt, 32, { N: 2 ** 10, r: 8, p: 1 });
  return `scrypt$${2 ** 10}$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/**
 * `count` new users, inserted directly with one precomputed password hash (`cheap`: see
 * cheapPasswordHash). Bare oidc-provider has no user store: any name signs in there, so the
 * names alone do.
 */
export async function newUsers(target: Target, count: number, cost: 'full' | 'cheap' = 'full'): Promise<Users> {
  const password = 'bench password';
  const run = crypto.randomBytes(4).toString('hex');
  const emails = Array.from({ length: count }, (_, i) => `bench-${run}-${i}@example.com`);
  let next = 0;
  const users = { next: () => ({ email: emails[next++ % emails.length] as string, password }) };
  if (!target.databaseUrl) return users;
  const hash = cost === 'cheap' ? cheapPasswordHash(password) : await hashPassword(password);
  const db = createDatabase(parseDatabaseUrl(target.databaseUrl));
  const rows = emails.map((email) => ({
    id: crypto.randomUUID(),
    email,
    name: null,
    email_verified: true,
    password_hash: hash,
    created_at: Date.now(),
    disabled_at: null,
  }));
  for (let i = 0; i < rows.length; i += 250) await db('users').insert(rows.slice(i, i + 250));
  await db.destroy();
  return users;
}
