// What one HTTP request has already read, for that request only. When the adapter reads a token
// it reads the token's grant and session in the same statement (the provider asks for both
// next); they wait here, and the provider's next lookup of exactly that grant or session takes
// them — once. Nothing here outlives the request or is seen by another one, so it is not a
// cache: a revocation committed before the statement is seen, and one committed after it is no
// different from one that commits a moment after a separate lookup would have run.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface PrefetchedRow {
  id: string;
  payload: string;
  consumed_at: number | null;
}

/** Keyed `${model}:${column}:${digest}`; null records that the row was looked for and is absent. */
export type RequestScope = Map<string, PrefetchedRow | null>;

const storage = new AsyncLocalStorage<RequestScope>();

export function withRequestScope<T>(run: () => T): T {
  return storage.run(new Map(), run);
}

export function currentRequestScope(): RequestScope | undefined {
  return storage.getStore();
}

export function prefetchKey(model: string, column: 'id' | 'uid', digest: string): string {
  return `${model}:${column}:${digest}`;
}
