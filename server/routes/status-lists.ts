// GET /status-lists/:id: a resource server's status list token (draft-ietf-oauth-status-list
// §8), `application/statuslist+jwt`, for the APIs that check Latchkey's JWT access tokens. Public
// like the JWKS: it says which indexes are recalled, nothing about whose tokens they were.
import zlib from 'node:zlib';
import Router from '@koa/router';
import { notFound } from '../http/errors.ts';
import { STATUS_LIST_MEDIA_TYPE, STATUS_LIST_PATH, type StatusLists } from '../services/status-lists.ts';

// statusListIdFor's shape: 22 base64url characters.
const LIST_ID = /^[\w-]{22}$/;

export function statusListRoutes({ statusLists }: { statusLists: Pick<StatusLists, 'token'> }): Router {
  const router = new Router();
  router.get(`${STATUS_LIST_PATH}/:id`, async (ctx) => {
    const id = ctx.params.id as string;
    const token = LIST_ID.test(id) ? await statusLists.token(id) : undefined;
    if (!token) throw notFound();
    // §8.1: CORS, so browser-based clients can check too (nothing here is per caller).
    ctx.set('Access-Control-Allow-Origin', '*');
    // Cache-Control stays no-store (security-headers.ts): the list's own ttl and exp say how long
    // it may be kept (§8.2), and a shared cache in between would add its own delay to a recall.
    ctx.type = STATUS_LIST_MEDIA_TYPE;
    // §8.2: compressed on the way when the client takes it. A JWS is base64url inside base64url
    // here (`lst` in the payload); gzip takes back about a quarter of that.
    ctx.vary('Accept-Encoding');
    if (ctx.acceptsEncodings('gzip', 'identity') === 'gzip') {
      ctx.set('Content-Encoding', 'gzip');
      ctx.body = zlib.gzipSync(token);
    } else {
      ctx.body = token;
    }
  });
  return router;
}
