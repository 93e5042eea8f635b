// The id of the request being handled, for every log line written while it runs (log.ts), kept in
// an AsyncLocalStorage so code deep in the provider's handlers needs no parameter for it. With
// TRUST_PROXY an incoming X-Request-Id (a proxy's) is kept when it is plain; otherwise, and
// always without TRUST_PROXY, a fresh one is made. It is sent back as X-Request-Id.
import { AsyncLocalStorage } from 'node:async_hooks';
import crypto from 'node:crypto';

const storage = new AsyncLocalStorage<{ requestId: string }>();

// Printable, short, and nothing a log parser or a header could trip on.
const PLAIN_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

export function requestIdFor(incoming: string | undefined, trustProxy: boolean): string {
  if (trustProxy && incoming && PLAIN_ID.test(incoming)) return incoming;
  return crypto.randomUUID();
}

export function withRequestId<T>(requestId: string, work: () => T): T {
  return storage.run({ requestId }, work);
}
