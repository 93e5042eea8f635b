// The admin interface's contract: what each operation takes and gives, as zod schemas. The admin
// API validates requests with them and publishes them as its OpenAPI document
// (server/routes/admin/openapi.ts); the CLI validates what its flags build with the same ones.
// Field names are snake_case, as in RFC 7591 and the CLI's --json output.
import { z } from 'zod';
import { GRANT_TYPES } from '../clients.ts';

/** Text a person typed: no control characters (PostgreSQL refuses NUL; pages would show the rest). */
const plain = (max: number) =>
  z
    .string()
    .max(max)
    .refine((value) => !/\p{Cc}/u.test(value), 'must be plain text without control characters');
const uri = z.string().min(1).max(2000).refine((value) => !/[\s\p{Cc}]/u.test(value), 'must be a URI without spaces or control characters');
const timestamp = z.string().meta({ format: 'date-time', description: 'ISO 8601, UTC' });
const scopeString = plain(2000).meta({ description: 'Space-separated scopes' });

// ── Users ───────────────────────────────────────────────────────────────────────────────────────

export const User = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    email_verified: z.boolean(),
    disabled: z.boolean(),
    created_at: timestamp,
  })
  .meta({ id: 'User' });

export const NewUser = z
  .strictObject({
    email: plain(320),
    password: z.string().min(8).max(1024),
    name: plain(200).optional(),
    email_verified: z.boolean().optional(),
  })
  .meta({ id: 'NewUser' });

export const UserChanges = z.strictObject({ disabled: z.boolean() }).meta({ id: 'UserChanges' });

export const UserQuery = z.strictObject({
  email: plain(320).optional().meta({ description: 'Exactly this address (any case)' }),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: plain(64).optional().meta({ description: 'The `next_cursor` of the previous page' }),
});

export const UserPage = z.object({ users: z.array(User), next_cursor: z.string().nullable() }).meta({ id: 'UserPage' });

// ── Clients ─────────────────────────────────────────────────────────────────────────────────────

const GrantType = z.enum(GRANT_TYPES);

export const Client = z
  .object({
    client_id: z.string(),
    client_name: z.string().optional(),
    kind: z.enum(['app', 'resource_server']),
    source: z.string().meta({ description: 'seed, cli, admin_api, dynamic or system' }),
    verified: z.boolean(),
    confidential: z.boolean(),
    admin: z.boolean().meta({ description: 'May get tokens for the admin API' }),
    grant_types: z.array(z.string()).optional(),
    redirect_uris: z.array(z.string()).optional(),
    scope: z.string().optional(),
    resource_scopes: z.record(z.string(), z.string()).optional(),
    dpop_bound_access_tokens: z.boolean().optional().meta({ description: 'Every token request must carry a DPoP proof (RFC 9449)' }),
    require_pushed_authorization_requests: z.boolean().optional().meta({ description: 'Authorization requests must be pushed first (RFC 9126)' }),
    created_at: timestamp,
  })
  .meta({ id: 'Client' });

export const NewClient = z
  .strictObject({
    client_name: plain(200).min(1),
    redirect_uris: z.array(uri).max(20).optional(),
    public: z.boolean().optional().meta({ description: 'No secret (apps that cannot keep one: SPAs, native apps)' }),
    native: z.boolean().optional(),
    scope: scopeString.optional().meta({ description: 'Allowed scopes: OpenID Connect and resource scopes' }),
    resources: z.array(uri).max(50).optional().meta({ description: 'Resource identifiers the client may get tokens for' }),
    grant_types: z.array(GrantType).min(1).optional(),
    logo_uri: uri.optional(),
    client_uri: uri.optional(),
    policy_uri: uri.optional(),
    tos_uri: uri.optional(),
    admin: z.boolean().optional().meta({ description: 'A client of this admin API (client credentials only)' }),
    dpop_bound_access_tokens: z
      .boolean()
      .optional()
      .meta({ description: 'Its tokens are always DPoP-bound (RFC 9449): a token request without a DPoP proof is refused' }),
    require_pushed_authorization_requests: z
      .boolean()
      .optional()
      .meta({ description: 'It must push its authorization requests (RFC 9126): a plain authorization request is refused' }),
  })
  .meta({ id: 'NewClient' });

/** RFC 7591 metadata as stored (without the secret), plus the secret once, at creation. */
export const CreatedClient = z
  .looseObject({
    client_id: z.string(),
    client_secret: z.string().optional().meta({ description: 'Shown only now; stored sealed' }),
    client_name: z.string(),
    application_type: z.enum(['web', 'native']),
    grant_types: z.array(z.string()),
    response_types: z.array(z.string()),
    redirect_uris: z.array(z.string()),
    token_endpoint_auth_method: z.string(),
    scope: z.string().optional(),
    resource_scopes: z.record(z.string(), z.string()),
  })
  .meta({ id: 'CreatedClient' });

export const ClientChanges = z.strictObject({ verified: z.boolean() }).meta({ id: 'ClientChanges' });

// ── Resource servers ────────────────────────────────────────────────────────────────────────────

/** services/status-lists.ts STATUS_LIST_TTL_RANGE. */
const statusListTtl = z.number().int().min(1).max(3600).meta({ description: 'Seconds (1–3600; 30 by default)' });

const ScopeDefinition = z.object({ scope: z.string(), description: z.string() }).meta({ id: 'ScopeDefinition' });

/** An RFC 9396 authorization-detail type a resource server declares (docs/authorization-details.md). */
export const AuthorizationDetailType = z
  .strictObject({
    type: z.string().min(1).max(100).meta({ description: 'The `type` of the authorization details it covers' }),
    schema: z.record(z.string(), z.unknown()).meta({ description: 'JSON Schema every requested detail of this type must satisfy' }),
    describe: plain(300).meta({ description: 'What the consent page says; `{field}` placeholders are fields of the detail, `{actions}` lists its actions' }),
  })
  .meta({ id: 'AuthorizationDetailType' });

export const Resource = z
  .object({
    id: z.string().meta({ description: 'The resource indicator (RFC 8707): the tokens’ audience' }),
    name: z.string(),
    token_format: z.enum(['opaque', 'jwt']),
    access_token_ttl: z.number().int(),
    max_grant_duration: z.number().int().nullable(),
    client_id: z.string().nullable().meta({ description: 'Its introspection credentials’ client id' }),
    dynamic_clients: z.boolean(),
    default_scope: z.string().nullable(),
    may_exchange_for: z.array(z.string()).meta({ description: 'APIs it may call for the user by token exchange (RFC 8693)' }),
    status_list_ttl: z.number().int().meta({ description: 'Seconds an API may keep the status list its JWT access tokens point into: how late it may see a recall' }),
    scopes: z.array(ScopeDefinition),
    require_passkey_for: z.array(z.string()).meta({ description: 'Its scopes a token carries only for a user who signed in with a passkey (step-up)' }),
    authorization_detail_types: z.array(AuthorizationDetailType),
  })
  .meta({ id: 'Resource' });

export const NewResource = z
  .strictObject({
    id: uri,
    name: plain(200).optional(),
    scopes: z
      .array(z.strictObject({ scope: z.string().min(1).max(128), description: plain(500).optional() }))
      .min(1)
      .max(100),
    token_format: z.enum(['opaque', 'jwt']).optional(),
    access_token_ttl: z.number().int().min(10).max(86400).optional(),
    max_grant_duration: z.number().int().min(60).optional(),
    dynamic_clients: z.boolean().optional(),
    default_scope: scopeString.optional(),
    may_exchange_for: z.array(uri).max(20).optional(),
    status_list_ttl: statusListTtl.optional(),
    authorization_detail_types: z.array(AuthorizationDetailType).max(20).optional(),
    require_passkey_for: scopeString.optional().meta({ description: 'Space-separated scopes of its own that need a passkey sign-in' }),
  })
  .meta({ id: 'NewResource' });

export const CreatedResource = Resource.extend({
  client_secret: z.string().meta({ description: 'Introspection secret; shown only now, stored sealed' }),
}).meta({ id: 'CreatedResource' });

export const ResourceChanges = z
  .strictObject({
    dynamic_clients: z.boolean().optional(),
    default_scope: scopeString.optional(),
    may_exchange_for: z.array(uri).max(20).optional().meta({ description: 'Replaces the list; [] for none' }),
    status_list_ttl: statusListTtl.optional(),
    authorization_detail_types: z.array(AuthorizationDetailType).max(20).optional().meta({ description: 'Declares these types, or redeclares ones it owns; the others stay' }),
    require_passkey_for: scopeString.optional().meta({ description: 'Replaces the scopes that need a passkey sign-in; "" for none' }),
  })
  .refine(
    (c) =>
      c.dynamic_clients !== undefined || c.default_scope !== undefined || c.may_exchange_for !== undefined || c.status_list_ttl !== undefined || c.authorization_detail_types !== undefined || c.require_passkey_for !== undefined,
    'give dynamic_clients, default_scope, may_exchange_for, status_list_ttl, authorization_detail_types and/or require_passkey_for',
  )
  .meta({ id: 'ResourceChanges' });

// ── Grants ──────────────────────────────────────────────────────────────────────────────────────

export const Grant = z
  .object({
    grant_id: z.string(),
    client_id: z.string(),
    scope: z.string(),
    resources: z.record(z.string(), z.array(z.string())),
    granted_at: timestamp,
    expires_at: timestamp.nullable(),
    authorization_details: z.array(z.record(z.string(), z.unknown())).meta({
      description: 'The authorization details (RFC 9396) the user approved, as the grant holds them (each names its API in `locations`); empty when none',
    }),
  })
  .meta({ id: 'Grant' });

export const GrantQuery = z
  .strictObject({ user: plain(320).optional().meta({ description: 'Email address' }), user_id: plain(64).optional() })
  .refine((query) => (query.user === undefined) !== (query.user_id === undefined), 'give user (an email address) or user_id');

export const GrantList = z.object({ grants: z.array(Grant) }).meta({ id: 'GrantList' });

// ── Initial access tokens ───────────────────────────────────────────────────────────────────────

export const NewInitialAccessToken = z
  .strictObject({ ttl: z.number().int().min(60).max(365 * 86400).optional().meta({ description: 'Seconds; 7 days by default' }) })
  .meta({ id: 'NewInitialAccessToken' });

export const InitialAccessToken = z
  .object({ initial_access_token: z.string().meta({ description: 'Shown only now' }), expires_at: timestamp })
  .meta({ id: 'InitialAccessToken' });

// ── Keys ────────────────────────────────────────────────────────────────────────────────────────

export const Key = z
  .object({
    kind: z.enum(['signing', 'cookie', 'data']),
    id: z.string(),
    alg: z.string().optional(),
    status: z.enum(['active', 'verify-only', 'retired']),
    retired_at: timestamp.optional(),
    sealed_rows: z.number().int().optional(),
  })
  .meta({ id: 'Key' });

export const KeyList = z.object({ keys: z.array(Key) }).meta({ id: 'KeyList' });

export const KeyRotation = z
  .strictObject({
    signing: z.boolean().default(true),
    cookies: z.boolean().default(true),
  })
  .refine((rotation) => rotation.signing || rotation.cookies, 'rotate signing keys, cookie keys or both')
  .meta({ id: 'KeyRotation', description: 'The data key is rotated with the CLI only: it lives in KEYS_FILE on every instance' });

// ── Audit ───────────────────────────────────────────────────────────────────────────────────────

export const AuditEvent = z
  .object({
    id: z.number().int(),
    at: timestamp,
    event: z.string(),
    account_id: z.string().nullable(),
    client_id: z.string().nullable(),
    grant_id: z.string().nullable(),
    actor: z.string().nullable(),
    ip: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEvent' });

export const AuditQuery = z.strictObject({
  user: plain(320).optional().meta({ description: 'Email address' }),
  client: plain(255).optional(),
  event: plain(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.coerce.number().int().min(1).optional().meta({ description: 'The `next_cursor` of the previous page' }),
});

export const AuditPage = z.object({ events: z.array(AuditEvent), next_cursor: z.number().int().nullable() }).meta({ id: 'AuditPage' });

// ── Errors ──────────────────────────────────────────────────────────────────────────────────────

export const ErrorBody = z
  .object({
    error: z.string(),
    error_description: z.string().optional(),
    fields: z.record(z.string(), z.string()).optional().meta({ description: 'Per input field, what is wrong with it' }),
  })
  .meta({ id: 'Error' });

export type Input<T extends z.ZodType> = z.output<T>;
export type Output<T extends z.ZodType> = z.input<T>;
