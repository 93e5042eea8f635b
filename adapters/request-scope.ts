// What one HTTP request has already read, for that request only. When the adapter reads a token
// it reads the token's grant and session in the same statement (the provider asks for both
// next); they wait here, and the provider's next lookup of exactly that grant or session takes
// them — once. Nothing here outlives the request or is seen by another one, so it is not a
// cache: a revocation committed before the statement is seen, and one committed after it is no
// different from one that commits a moment after a separate lookup would have run.
//
// The request is oidc-provider's own (Provider.ctx, its AsyncLocalStorage; documented, and what
// we assume of it is pinned by test/oidc-internals/provider-ctx.test.ts): a second
// AsyncLocalStorage of ours would add its own cost to every promise of every request. Outside
// the provider's requests (our pages, the CLI) there is no scope and nothing is read ahead;
// tests open one with withRequestScope.
import { AsyncLocalStorage } from 'node:async_hooks';
import Provider from 'oidc-provider';

export interface PrefetchedRow {
  id: string;
  payload: string;
  consumed_at: number | null;
}

/**
 * A token's user, read with the token (the `users` row without its password hash): the
 * provider asks for the account of a refresh token, a code or a session next, and a disabled or
 * removed user must end them.
 */
export interface PrefetchedUser {
  id: string;
  email: string;
  name: string | null;
  email_verified: boolean | number;
  /** Milliseconds; PostgreSQL's bigint arrives as a string. */
  created_at: number | string;
  disabled_at: number | string | null;
}

/**
 * Keyed `${model}:${column}:${digest}` for payload rows and `users:id:${id}` for users; null
 * records that the row was looked for and is absent.
 */
export type RequestScope = Map<string, PrefetchedRow | PrefetchedUser | null>;

const byRequest = new WeakMap<object, RequestScope>();
const standalone = new AsyncLocalStorage<RequestScope>();

/** What identifies the current request: the provider's context, or a test's own scope. */
export function currentRequest(): object | undefined {
  return (Provider.ctx as object | undefined) ?? standalone.getStore();
}

/** This request's scope if anything was read ahead in it (never creates one). */
export function existingRequestScope(): RequestScope | undefined {
  const ctx = Provider.ctx as object | undefined;
  return ctx ? byRequest.get(ctx) : standalone.getStore();
}

/** This request's scope, created on first use (the reader parks rows in it). */
export function currentRequestScope(): RequestScope | undefined {
  const ctx = Provider.ctx as object | undefined;
  if (!ctx) return standalone.getStore();
  let scope = byRequest.get(ctx);
  if (!scope) {
    scope = new Map();
    byRequest.set(ctx, scope);
  }
  return scope;
}

/** Runs `run` as one request of its own (tests; the server's requests have the provider's). */
export function withRequestScope<T>(run: () => T): T {
  return standalone.run(new Map(), run);
}

export function prefetchKey(model: string, column: 'id' | 'uid', digest: string): string {
  return `${model}:${column}:${digest}`;
}

const userKey = (id: string) => `users:id:${id}`;

export function parkUser(scope: RequestScope, id: string, user: PrefetchedUser | null): void {
  scope.set(userKey(id), user);
}

/**
 * What this request parked under `name`, taken once: `{ value: undefined }` when the read found
 * nothing there, undefined when nothing was read ahead (then the caller asks the database).
 */
export function takeParked<T>(name: string): { value: T | undefined } | undefined {
  const scope = existingRequestScope();
  if (!scope?.has(name)) return undefined;
  const value = (scope.get(name) as T | null) ?? undefined;
  scope.delete(name);
  return { value };
}

/** The user this request read with a token, taken once (see takeParked). */
export function takePrefetchedUser(id: string): { value: PrefetchedUser | undefined } | undefined {
  return takeParked<PrefetchedUser>(userKey(id));
}
