// The contacts API: a resource server that accepts access tokens issued by Latchkey.
//
//   GET    /contacts      contacts:read    the caller's contacts
//   GET    /contacts/:id  contacts:read, or a `contact` authorization detail (RFC 9396) for
//                         this id with the action `read`: one contact, every other refused
//   POST   /contacts      contacts:write   {"name", "email"} → 201 with the new contact
//   DELETE /contacts/:id  contacts:write   204, or 404 if the caller has no such contact
//
// Whose contacts: a token acting for a user (it has `sub`) sees that user's contacts, whichever
// app holds the token. A token without a user (client_credentials) gets a bucket of its own,
// keyed by its client id in a separate namespace, so a service client never sees user data.
import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { ContactStore, parseNewContact } from './store.ts';
import { allows, resourceServer, type AccessToken, type ResourceServerOptions } from '../../resource-server/index.ts';

export interface ContactsApiOptions extends Pick<ResourceServerOptions, 'issuer' | 'resource' | 'clientId' | 'clientSecret' | 'timeoutMs' | 'publicUrl'> {
  /** Problems on our side (never token values); console.error by default. */
  log?: (message: string, error?: unknown) => void;
  store?: ContactStore;
}

interface State {
  accessToken: AccessToken;
}

/** Whose contacts: the user the token acts for, or (client_credentials) the client's own bucket. */
function ownerOf(token: AccessToken): string {
  return token.sub !== undefined ? `user:${token.sub}` : `client:${token.clientId}`;
}

// What a client did wrong with its request body, in words that give nothing away.
const BODY_ERRORS: Record<number, string> = {
  400: 'The request body is not valid JSON',
  413: 'The request body is larger than 16kb',
  415: 'The request body must be application/json in UTF-8',
};

export function createContactsApi(options: ContactsApiOptions): Koa {
  const log = options.log ?? ((message, error) => console.error(message, error ?? ''));
  const store = options.store ?? new ContactStore();
  // Tokens are checked by latchkey/resource-server: JWT access tokens offline, opaque ones by
  // introspection, asked afresh every time (a revoked token is refused on the very next request;
  // the library's default would reuse an answer for up to 5 s).
  const rs = resourceServer({
    ...options,
    resourceName: 'Contacts API',
    introspectionCacheSeconds: 0,
    onError: (error) => {
      if (error.status >= 500) log(`authorization server unavailable: ${error.message}`, error.cause);
    },
  });
  const reader = rs.koa('contacts:read');
  const writer = rs.koa('contacts:write');
  // Any valid token for this API; the route decides (per-contact access, RFC 9396).
  const anyToken = rs.koa();

  const app = new Koa();

  // Outermost: nothing below may answer with a stack trace or Koa's plain-text errors.
  app.use(async (ctx, next) => {
    // Answers carry personal data or authentication errors: no cache may keep them.
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Content-Type-Options', 'nosniff');
    try {
      await next();
    } catch (error) {
      const status = (error as { status?: unknown }).status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        ctx.status = status;
        ctx.body = { error: 'invalid_request', error_description: BODY_ERRORS[status] ?? 'The request could not be read' };
        return;
      }
      log(`unhandled error on ${ctx.method} ${ctx.path}`, error);
      ctx.status = 500;
      ctx.body = { error: 'server_error', error_description: 'Something went wrong on our side' };
      return;
    }
    // Unknown paths (404) and methods (405, from allowedMethods) answer in JSON like the rest.
    if (ctx.body == null && ctx.status >= 400) {
      const status = ctx.status;
      ctx.body = status === 404
        ? { error: 'not_found', error_description: 'There is nothing at this address' }
        : { error: 'invalid_request', error_description: `${ctx.method} is not supported here` };
      ctx.status = status; // setting a body would otherwise make it 200
    }
  });

  // RFC 9728: where clients learn which authorization server and scopes this API uses.
  app.use(rs.metadata.koa());

  const router = new Router();
  const tokenOf = (ctx: { state: unknown }) => (ctx.state as State).accessToken;

  router.get('/contacts', reader, (ctx) => {
    ctx.body = { contacts: store.list(ownerOf(tokenOf(ctx))) };
  });

  router.get('/contacts/:id', anyToken, (ctx) => {
    const token = tokenOf(ctx);
    const id = ctx.params.id ?? '';
    // Every contact with contacts:read; without it, only those the user approved one by one.
    if (!token.scopes.has('contacts:read') && !allows(token, { type: 'contact', identifier: id, action: 'read' })) {
      ctx.status = 403;
      ctx.set('WWW-Authenticate', 'Bearer error="insufficient_scope", error_description="This token does not allow reading this contact"');
      ctx.body = { error: 'insufficient_scope', error_description: 'This token does not allow reading this contact' };
      return;
    }
    const contact = store.get(ownerOf(token), id);
    if (!contact) {
      ctx.status = 404;
      ctx.body = { error: 'not_found', error_description: 'You have no contact with this id' };
      return;
    }
    ctx.body = contact;
  });

  router.post(
    '/contacts',
    // Authorization before the body is read: strangers do not get to make us parse anything.
    writer,
    async (ctx, next) => {
      if (ctx.is('application/json') === false) {
        ctx.status = 415;
        ctx.body = { error: 'invalid_request', error_description: BODY_ERRORS[415] };
        return;
      }
      await next();
    },
    bodyParser({ enableTypes: ['json'], jsonLimit: '16kb', encoding: 'utf-8' }),
    (ctx) => {
      const input = parseNewContact(ctx.request.body);
      if (typeof input === 'string') {
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: input };
        return;
      }
      const contact = store.add(ownerOf(tokenOf(ctx)), input);
      ctx.status = 201;
      ctx.set('Location', `/contacts/${contact.id}`);
      ctx.body = contact;
    },
  );

  router.delete('/contacts/:id', writer, (ctx) => {
    if (!store.remove(ownerOf(tokenOf(ctx)), ctx.params.id ?? '')) {
      ctx.status = 404;
      ctx.body = { error: 'not_found', error_description: 'You have no contact with this id' };
      return;
    }
    ctx.status = 204;
  });

  app.use(router.routes()).use(router.allowedMethods());
  return app;
}
