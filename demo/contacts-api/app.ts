// The contacts API: a resource server that accepts access tokens issued by Latchkey.
//
//   GET    /contacts      contacts:read    the caller's contacts
//   POST   /contacts      contacts:write   {"name", "email"} → 201 with the new contact
//   DELETE /contacts/:id  contacts:write   204, or 404 if the caller has no such contact
//
// Whose contacts: a token acting for a user (it has `sub`) sees that user's contacts, whichever
// app holds the token. A token without a user (client_credentials) gets a bucket of its own,
// keyed by its client id in a separate namespace, so a service client never sees user data.
import Koa from 'koa';
import Router, { type RouterMiddleware } from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { ContactStore, parseNewContact } from './store.ts';
import {
  AuthorizationServerUnavailable,
  createTokenCheck,
  InvalidToken,
  type AccessToken,
  type TokenCheck,
  type TokenCheckOptions,
} from './token-check.ts';

export interface ContactsApiOptions extends TokenCheckOptions {
  /** Problems on our side (never token values); console.error by default. */
  log?: (message: string, error?: unknown) => void;
  store?: ContactStore;
}

interface State {
  token: AccessToken;
  owner: string;
}
type Middleware = RouterMiddleware<State>;

const REALM = 'contacts';
// RFC 6750 §2.1 b64token; anything else after "Bearer " is a malformed request.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
// Longer than any token Latchkey issues; refused before it costs the issuer a request.
const MAX_TOKEN_LENGTH = 4096;

/** RFC 6750 §3: `Bearer realm="contacts"`, plus error attributes when there is an error. */
function challenge(attributes: Record<string, string> = {}): string {
  // Attribute values may not contain `"` or `\` (RFC 6750 §3 error_description syntax).
  const quoted = Object.entries(attributes).map(([k, v]) => `, ${k}="${v.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '')}"`);
  return `Bearer realm="${REALM}"${quoted.join('')}`;
}

function refuse(ctx: Koa.Context, status: number, error: string, description: string, extra: Record<string, string> = {}) {
  ctx.status = status;
  ctx.set('WWW-Authenticate', challenge({ error, error_description: description, ...extra }));
  ctx.body = { error, error_description: description };
}

function authenticate(check: TokenCheck, log: NonNullable<ContactsApiOptions['log']>): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    // RFC 6750 §2.3 (access_token in the URI) is not supported on purpose: URLs end up in
    // logs, browser history and Referer headers. The parameter is never read.
    const inQuery = ctx.querystring !== '' && new URLSearchParams(ctx.querystring).has('access_token');
    if (inQuery && header) {
      return refuse(ctx, 400, 'invalid_request', 'Send the access token in the Authorization header only, not also in the URL');
    }
    if (!/^bearer(\s|$)/i.test(header)) {
      // RFC 6750 §3.1: a request without credentials gets the challenge but no error code.
      ctx.status = 401;
      ctx.set('WWW-Authenticate', challenge());
      ctx.body = {
        error_description: inQuery
          ? 'Access tokens in the URL are not accepted; use the Authorization: Bearer header'
          : 'This API needs an access token in the Authorization: Bearer header',
      };
      return;
    }
    const token = BEARER.exec(header)?.[1];
    if (!token) return refuse(ctx, 400, 'invalid_request', 'The Authorization header is not a valid Bearer credential');
    if (token.length > MAX_TOKEN_LENGTH) return refuse(ctx, 401, 'invalid_token', 'The access token is not valid');

    try {
      ctx.state.token = await check(token);
    } catch (error) {
      if (error instanceof InvalidToken) return refuse(ctx, 401, 'invalid_token', error.message);
      if (error instanceof AuthorizationServerUnavailable) {
        log(`authorization server unavailable: ${error.message}`, error.cause);
        ctx.status = 503;
        ctx.set('Retry-After', '5');
        ctx.body = { error: 'temporarily_unavailable', error_description: 'The access token cannot be checked right now; try again shortly' };
        return;
      }
      throw error;
    }
    const { sub, clientId } = ctx.state.token;
    ctx.state.owner = sub !== undefined ? `user:${sub}` : `client:${clientId}`;
    await next();
  };
}

function requireScope(scope: string): Middleware {
  return async (ctx, next) => {
    if (!ctx.state.token.scopes.has(scope)) {
      // RFC 6750 §3.1: 403, and the scope that would have been enough.
      return refuse(ctx, 403, 'insufficient_scope', `This request needs the ${scope} scope`, { scope });
    }
    await next();
  };
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
  const check = createTokenCheck(options);
  const auth = authenticate(check, log);

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

  const router = new Router<State>();

  router.get('/contacts', auth, requireScope('contacts:read'), (ctx) => {
    ctx.body = { contacts: store.list(ctx.state.owner) };
  });

  router.post(
    '/contacts',
    // Authorization before the body is read: strangers do not get to make us parse anything.
    auth,
    requireScope('contacts:write'),
    async (ctx, next) => {
      if (ctx.is('application/json') === false) {
        ctx.status = 415;
        ctx.body = { error: 'invalid_request', error_description: BODY_ERRORS[415] };
        return;
      }
      await next();
    },
    bodyParser({ enableTypes: ['json'], jsonLimit: '16kb', encoding: 'utf-8' }) as Middleware,
    (ctx) => {
      const input = parseNewContact(ctx.request.body);
      if (typeof input === 'string') {
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: input };
        return;
      }
      const contact = store.add(ctx.state.owner, input);
      ctx.status = 201;
      ctx.set('Location', `/contacts/${contact.id}`);
      ctx.body = contact;
    },
  );

  router.delete('/contacts/:id', auth, requireScope('contacts:write'), (ctx) => {
    if (!store.remove(ctx.state.owner, ctx.params.id ?? '')) {
      ctx.status = 404;
      ctx.body = { error: 'not_found', error_description: 'You have no contact with this id' };
      return;
    }
    ctx.status = 204;
  });

  app.use(router.routes()).use(router.allowedMethods());
  return app;
}
