// The id of the request being handled: kept on the request's context (ctx.state) and passed to
// every log line written for it, so a provider event and the request's own line can be told
// together. oidc-provider's events receive the same ctx (it is mounted into our app), so they
// read it there. (Deliberately not an AsyncLocalStorage: on Node 20 that turns on async hooks for
// every promise of every request, a cost the benchmarks see.) With TRUST_PROXY an incoming
// X-Request-Id (a proxy's) is kept when it is plain; otherwise, and always without TRUST_PROXY, a
// fresh one is made. It is sent back as X-Request-Id.
import crypto from 'node:crypto';

// Printable, short, and nothing a log parser or a header could trip on.
const PLAIN_ID = /^[A-Za-z0-9._:-]{1,128}$/;

interface WithState {
  state?: { requestId?: string };
}

export function requestIdFor(incoming: string | undefined, trustProxy: boolean): string {
  if (trustProxy && incoming && PLAIN_ID.test(incoming)) return incoming;
  return crypto.randomUUID();
}

export function setRequestId(ctx: WithState, requestId: string): void {
  if (ctx.state) ctx.state.requestId = requestId;
}

/** The request id of the request this context belongs to (undefined outside one). */
export function requestIdOf(ctx: unknown): string | undefined {
  return (ctx as WithState | undefined)?.state?.requestId;
}
