// The one place refusals become HTTP answers: on a node:http response (plain Node and Express,
// whose response is one) or on a Koa context. Both send what the TokenError says, unchanged.
import type { ServerResponse } from 'node:http';
import type { TokenError } from './errors.ts';

/** The part of a Koa context the adapters use (structural, so this package needs no Koa types). */
export interface KoaContextLike {
  req: import('node:http').IncomingMessage;
  method: string;
  /** The request target before any mount point was removed. */
  originalUrl: string;
  /** The path after mounting, used to route the metadata document. */
  path: string;
  /** `http` or `https`, honouring X-Forwarded-Proto when the app trusts a proxy. */
  protocol: string;
  /** host[:port], honouring X-Forwarded-Host when the app trusts a proxy. */
  host: string;
  state: object;
  status: number;
  body: unknown;
  set(field: string, value: string): void;
}

export function writeError(res: ServerResponse, error: TokenError): void {
  // Too late to answer properly: end the exchange rather than append to another answer.
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  res.statusCode = error.status;
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.end(JSON.stringify(error.body));
}

export function setKoaError(ctx: KoaContextLike, error: TokenError): void {
  ctx.status = error.status;
  for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
  ctx.body = error.body;
}
