// The admin API is a resource server of our own issuer: callers hold an access token whose
// audience is `<ISSUER>/admin`, got with client credentials by a client the operator made with
// `latchkey client add --admin`. It is built in (not a row an operator could edit or remove),
// never open to self-registered clients, and its tokens are opaque: revoking one ends it at once.
import type { ResourceServer } from './resources.ts';

/** Every admin route. */
export const ADMIN_SCOPE = 'latchkey:admin';
/** The admin API's GET routes only. */
export const ADMIN_READ_SCOPE = 'latchkey:admin.read';

/** Short-lived: an admin token is a key to everything, and client credentials get a new one in one request. */
const ADMIN_TOKEN_TTL_SECONDS = 300;

export function adminResourceId(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/admin`;
}

export function adminResource(issuer: string): ResourceServer {
  return {
    id: adminResourceId(issuer),
    name: 'Latchkey admin API',
    tokenFormat: 'opaque',
    accessTokenTtl: ADMIN_TOKEN_TTL_SECONDS,
    introspectionClientId: null,
    maxGrantDuration: null,
    dynamicClients: false,
    defaultScope: [],
    builtIn: true,
    scopes: [
      { scope: ADMIN_SCOPE, description: 'Manage this Latchkey server: users, clients, APIs, grants and keys' },
      { scope: ADMIN_READ_SCOPE, description: 'Read this Latchkey server’s users, clients, APIs, grants, keys and audit trail' },
    ],
  };
}
