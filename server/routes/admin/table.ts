// Every admin API route, once: the router (router.ts) serves and validates from this table and
// the OpenAPI document (openapi.ts) is generated from it, so the two cannot drift apart.
import { z } from 'zod';
import type { Administration, Actor } from '../../services/administration/index.ts';
import * as S from '../../services/administration/schemas.ts';
import type { Access } from './auth.ts';

type Schema = z.ZodType;
type Infer<T> = T extends Schema ? z.output<T> : undefined;

export interface AdminRoute<P extends Schema | undefined = Schema | undefined, Q extends Schema | undefined = Schema | undefined, B extends Schema | undefined = Schema | undefined> {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI form, under /admin/v1: `/users/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  status: 200 | 201 | 204;
  /** The success answer's schema (none for 204). */
  response?: Schema;
  /** Refusals the route can give besides 400/401/403 (404, 409). */
  refusals?: Array<404 | 409>;
  run(admin: Administration, input: { params: Infer<P>; query: Infer<Q>; body: Infer<B> }, actor: Actor): Promise<unknown>;
}

function route<P extends Schema | undefined = undefined, Q extends Schema | undefined = undefined, B extends Schema | undefined = undefined>(
  definition: AdminRoute<P, Q, B>,
): AdminRoute {
  return definition as unknown as AdminRoute;
}

const pathId = (name: string, description: string) => z.object({ [name]: z.string().min(1).max(2000).meta({ description }) });
const Page = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(100), after: z.string().max(255).optional().meta({ description: 'The `next_cursor` of the previous page' }) });
const ClientPage = z.object({ clients: z.array(S.Client), next_cursor: z.string().nullable() }).meta({ id: 'ClientPage' });
const ResourceList = z.object({ resources: z.array(S.Resource) }).meta({ id: 'ResourceList' });

export const ADMIN_ROUTES: AdminRoute[] = [
  // Users
  route({ method: 'get', path: '/users', operationId: 'listUsers', summary: 'List users, or find one by email', tag: 'users', access: 'read', query: S.UserQuery, status: 200, response: S.UserPage, run: (a, { query }) => a.users.list(query) }),
  route({ method: 'post', path: '/users', operationId: 'createUser', summary: 'Create a user', tag: 'users', access: 'write', body: S.NewUser, status: 201, response: S.User, refusals: [409], run: (a, { body }, actor) => a.users.add(body, actor) }),
  route({ method: 'get', path: '/users/{id}', operationId: 'getUser', summary: 'Get a user', tag: 'users', access: 'read', params: pathId('id', 'User id'), status: 200, response: S.User, refusals: [404], run: (a, { params }) => a.users.get(params.id as string) }),
  route({ method: 'patch', path: '/users/{id}', operationId: 'updateUser', summary: 'Disable or enable a user', tag: 'users', access: 'write', params: pathId('id', 'User id'), body: S.UserChanges, status: 200, response: S.User, refusals: [404], run: (a, { params, body }, actor) => a.users.update(params.id as string, body, actor) }),

  // Clients
  route({ method: 'get', path: '/clients', operationId: 'listClients', summary: 'List clients', tag: 'clients', access: 'read', query: Page, status: 200, response: ClientPage, run: (a, { query }) => a.clients.list(query) }),
  route({ method: 'post', path: '/clients', operationId: 'createClient', summary: 'Create a client (its secret is in this answer only)', tag: 'clients', access: 'write', body: S.NewClient, status: 201, response: S.CreatedClient, run: (a, { body }, actor) => a.clients.add(body, actor) }),
  route({ method: 'get', path: '/clients/{client_id}', operationId: 'getClient', summary: 'Get a client', tag: 'clients', access: 'read', params: pathId('client_id', 'Client id'), status: 200, response: S.Client, refusals: [404], run: (a, { params }) => a.clients.get(params.client_id as string) }),
  route({ method: 'patch', path: '/clients/{client_id}', operationId: 'updateClient', summary: 'Mark a client verified or unverified', tag: 'clients', access: 'write', params: pathId('client_id', 'Client id'), body: S.ClientChanges, status: 200, response: S.Client, refusals: [404], run: (a, { params, body }, actor) => a.clients.update(params.client_id as string, body, actor) }),
  route({ method: 'delete', path: '/clients/{client_id}', operationId: 'deleteClient', summary: 'Remove a client and everything issued to it', tag: 'clients', access: 'write', params: pathId('client_id', 'Client id'), status: 204, refusals: [404], run: (a, { params }, actor) => a.clients.remove(params.client_id as string, actor) }),

  // Resource servers
  route({ method: 'get', path: '/resources', operationId: 'listResources', summary: 'List resource servers and their scopes', tag: 'resources', access: 'read', status: 200, response: ResourceList, run: async (a) => ({ resources: await a.resources.list() }) }),
  route({ method: 'post', path: '/resources', operationId: 'createResource', summary: 'Create a resource server (its introspection secret is in this answer only)', tag: 'resources', access: 'write', body: S.NewResource, status: 201, response: S.CreatedResource, refusals: [409], run: (a, { body }, actor) => a.resources.add(body, actor) }),
  route({ method: 'get', path: '/resources/{resource}', operationId: 'getResource', summary: 'Get a resource server', tag: 'resources', access: 'read', params: pathId('resource', 'The resource identifier, URL-encoded'), status: 200, response: S.Resource, refusals: [404], run: (a, { params }) => a.resources.get(params.resource as string) }),
  route({ method: 'patch', path: '/resources/{resource}', operationId: 'updateResource', summary: 'Open or close a resource server to self-registered clients; set its default scope', tag: 'resources', access: 'write', params: pathId('resource', 'The resource identifier, URL-encoded'), body: S.ResourceChanges, status: 200, response: S.Resource, refusals: [404], run: (a, { params, body }, actor) => a.resources.update(params.resource as string, body, actor) }),
  route({ method: 'delete', path: '/resources/{resource}', operationId: 'deleteResource', summary: 'Remove a resource server', tag: 'resources', access: 'write', params: pathId('resource', 'The resource identifier, URL-encoded'), status: 204, refusals: [404], run: (a, { params }, actor) => a.resources.remove(params.resource as string, actor) }),

  // Grants
  route({ method: 'get', path: '/grants', operationId: 'listGrants', summary: 'List what a user granted', tag: 'grants', access: 'read', query: S.GrantQuery, status: 200, response: S.GrantList, refusals: [404], run: (a, { query }) => a.grants.list(query) }),
  route({ method: 'delete', path: '/grants/{grant_id}', operationId: 'revokeGrant', summary: 'Revoke a grant and every token issued under it', tag: 'grants', access: 'write', params: pathId('grant_id', 'Grant id'), status: 204, refusals: [404], run: (a, { params }, actor) => a.grants.revoke(params.grant_id as string, actor) }),

  // Credentials
  route({ method: 'post', path: '/initial-access-tokens', operationId: 'createInitialAccessToken', summary: 'Create an initial access token for RFC 7591 registration', tag: 'credentials', access: 'write', body: S.NewInitialAccessToken, status: 201, response: S.InitialAccessToken, run: (a, { body }, actor) => a.credentials.createInitialAccessToken(body, actor) }),
  route({ method: 'get', path: '/keys', operationId: 'listKeys', summary: 'List signing, cookie and data keys (ids and states, never key material)', tag: 'credentials', access: 'read', status: 200, response: S.KeyList, run: (a) => a.credentials.listKeys() }),
  route({ method: 'post', path: '/keys/rotate', operationId: 'rotateKeys', summary: 'Rotate signing and/or cookie keys; every instance picks them up within KEYS_POLL_SECONDS', tag: 'credentials', access: 'write', body: S.KeyRotation, status: 200, response: S.KeyList, run: async (a, { body }, actor) => ({ keys: (await a.credentials.rotateKeys(body, actor)).keys }) }),

  // Audit
  route({ method: 'get', path: '/audit', operationId: 'listAuditEvents', summary: 'The audit trail, newest first, filtered and paged', tag: 'audit', access: 'read', query: S.AuditQuery, status: 200, response: S.AuditPage, run: (a, { query }) => a.audit.list(query) }),
];
