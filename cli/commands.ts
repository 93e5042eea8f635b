// The operator commands: each turns its flags into the input of one administration operation
// (server/services/administration, the admin API's operations too), checks it against the same
// schema the admin API uses, and prints the answer: JSON with --json, lines for people
// otherwise. A secret is printed once, at creation; it is stored only sealed.
import type { z } from 'zod';
import type { Administration } from '../server/services/administration/index.ts';
import * as S from '../server/services/administration/schemas.ts';
import type { Output } from './output.ts';
import { table, UsageError } from './output.ts';
import { detailTypeFlags } from './detail-type-flags.ts';
import { checked, list, optional, required, seconds, trueOrFalse, type Values } from './flag-values.ts';

export { flagFor, type Values } from './flag-values.ts';

export interface CommandContext {
  admin: Administration;
  out: Output;
}

const CLI = { via: 'cli' } as const;

const when = (iso: string | null) => iso ?? '-';

// ── Users ───────────────────────────────────────────────────────────────────────────────────────

export async function userAdd(values: Values, { admin, out }: CommandContext) {
  const input = checked(S.NewUser, {
    email: required(values, 'email'),
    password: required(values, 'password'),
    name: optional(values, 'name'),
    email_verified: values['email-verified'] === true ? true : undefined,
  });
  const user = await admin.users.add(input, CLI);
  out.result(user, `created user ${user.email} (${user.id})`);
}

export async function userList(values: Values, { admin, out }: CommandContext) {
  const users: Array<z.input<typeof S.User>> = [];
  let after: string | undefined;
  do {
    const page = await admin.users.list(checked(S.UserQuery, { email: optional(values, 'email'), limit: 500, after }));
    users.push(...page.users);
    after = page.next_cursor ?? undefined;
  } while (after);
  out.result(
    users,
    users.length ? table([['ID', 'EMAIL', 'NAME', 'DISABLED'], ...users.map((u) => [u.id, u.email, u.name ?? '', u.disabled ? 'yes' : 'no'])]) : 'no users',
  );
}

export async function userDisable(values: Values, { admin, out }: CommandContext, email?: string) {
  if (!email) throw new UsageError('usage: latchkey user disable EMAIL [--enable]');
  const user = await admin.users.byEmail(email);
  const disabled = values.enable !== true;
  const updated = await admin.users.update(user.id, { disabled }, CLI);
  out.result(updated, `${updated.email} is now ${disabled ? 'disabled: sign-in and refreshes are refused' : 'enabled'}`);
}

// ── Clients ─────────────────────────────────────────────────────────────────────────────────────

export async function clientAdd(values: Values, { admin, out }: CommandContext) {
  const grantTypes = optional(values, 'grant-types')?.split(/[\s,]+/).filter(Boolean);
  const input = checked(S.NewClient, {
    client_name: required(values, 'name'),
    redirect_uris: list(values, 'redirect-uri'),
    public: values.public === true ? true : undefined,
    native: values.native === true ? true : undefined,
    scope: optional(values, 'scope'),
    resources: list(values, 'resource'),
    grant_types: grantTypes,
    logo_uri: optional(values, 'logo-uri'),
    client_uri: optional(values, 'client-uri'),
    policy_uri: optional(values, 'policy-uri'),
    tos_uri: optional(values, 'tos-uri'),
    admin: values.admin === true ? true : undefined,
    dpop_bound_access_tokens: values['dpop-bound'] === true ? true : undefined,
    require_pushed_authorization_requests: values['require-par'] === true ? true : undefined,
  });
  const created = await admin.clients.add(input, CLI);
  const lines = [`client_id:     ${created.client_id}`];
  if (created.client_secret) lines.push(`client_secret: ${created.client_secret}`, '(the secret is shown only now; it is stored encrypted)');
  if (input.admin) lines.push(`get admin API tokens with client credentials, resource=${Object.keys(created.resource_scopes).join(' ')}`);
  out.result(created, lines);
}

export async function clientList(_values: Values, { admin, out }: CommandContext) {
  const clients: Array<z.input<typeof S.Client>> = [];
  let after: string | undefined;
  do {
    const page = await admin.clients.list({ limit: 500, after });
    clients.push(...page.clients);
    after = page.next_cursor ?? undefined;
  } while (after);
  out.result(
    clients,
    clients.length
      ? table([
          ['CLIENT_ID', 'NAME', 'KIND', 'SOURCE', 'VERIFIED', 'ADMIN'],
          ...clients.map((c) => [c.client_id, c.client_name ?? '', c.kind, c.source, c.verified ? 'yes' : 'no', c.admin ? 'yes' : '']),
        ])
      : 'no clients',
  );
}

export async function clientRemove(_values: Values, { admin, out }: CommandContext, id?: string) {
  if (!id) throw new UsageError('usage: latchkey client remove CLIENT_ID');
  await admin.clients.remove(id, CLI);
  out.result({ client_id: id, removed: true }, `removed client ${id} and everything issued to it`);
}

export async function clientVerify(values: Values, { admin, out }: CommandContext, id?: string) {
  if (!id) throw new UsageError('usage: latchkey client verify CLIENT_ID [--unverify]');
  const verified = values.unverify !== true;
  await admin.clients.update(id, { verified }, CLI);
  out.result({ client_id: id, verified }, `${id} is now ${verified ? 'verified' : 'unverified'}`);
}

// ── Resource servers ────────────────────────────────────────────────────────────────────────────

function parseDescriptions(raw: string[]): Map<string, string> {
  const descriptions = new Map<string, string>();
  for (const entry of raw) {
    const eq = entry.indexOf('=');
    if (eq < 1) throw new UsageError(`--describe takes SCOPE=TEXT, got ${JSON.stringify(entry)}`);
    descriptions.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return descriptions;
}

export async function resourceAdd(values: Values, { admin, out }: CommandContext) {
  const scopes = required(values, 'scope').split(/\s+/).filter(Boolean);
  const descriptions = parseDescriptions(list(values, 'describe'));
  for (const scope of descriptions.keys()) {
    if (!scopes.includes(scope)) throw new UsageError(`--describe names ${scope}, which is not in --scope`);
  }
  const input = checked(S.NewResource, {
    id: required(values, 'id'),
    name: optional(values, 'name'),
    scopes: scopes.map((scope) => ({ scope, description: descriptions.get(scope) })),
    token_format: optional(values, 'format'),
    access_token_ttl: seconds(values, 'ttl'),
    max_grant_duration: seconds(values, 'max-grant-duration'),
    dynamic_clients: values['dynamic-clients'] === true ? true : undefined,
    default_scope: optional(values, 'default-scope'),
    may_exchange_for: list(values, 'may-exchange-for').filter(Boolean),
    status_list_ttl: seconds(values, 'status-list-ttl'),
    authorization_detail_types: detailTypeFlags(values),
    require_passkey_for: optional(values, 'require-passkey-for'),
  });
  const created = await admin.resources.add(input, CLI);
  out.result(created, [
    `resource server ${created.id} (${created.name})`,
    'introspection credentials (client_secret_basic):',
    `  client_id:     ${created.client_id}`,
    `  client_secret: ${created.client_secret}`,
    '(the secret is shown only now; it is stored encrypted)',
  ]);
}

export async function resourceList(_values: Values, { admin, out }: CommandContext) {
  const resources = await admin.resources.list();
  out.result(
    resources,
    resources.length
      ? table([
          ['ID', 'NAME', 'FORMAT', 'TTL', 'DYNAMIC CLIENTS', 'SCOPES'],
          ...resources.map((r) => [r.id, r.name, r.token_format, String(r.access_token_ttl), r.dynamic_clients ? 'yes' : 'no', r.scopes.map((s) => s.scope).join(' ')]),
        ])
      : 'no resource servers',
  );
}

export async function resourceUpdate(values: Values, { admin, out }: CommandContext, id?: string) {
  if (!id) throw new UsageError('usage: latchkey resource update RESOURCE_URI [--dynamic-clients true|false] [--default-scope "a b"]');
  const dynamicClients = trueOrFalse(optional(values, 'dynamic-clients'), 'dynamic-clients');
  const defaultScope = optional(values, 'default-scope');
  // Given at all, --may-exchange-for replaces the list; `--may-exchange-for ""` empties it.
  const exchanges = values['may-exchange-for'] === undefined ? undefined : list(values, 'may-exchange-for').filter(Boolean);
  const statusListTtl = seconds(values, 'status-list-ttl');
  const detailTypes = detailTypeFlags(values);
  // Given at all, --require-passkey-for replaces the list; `--require-passkey-for ""` empties it.
  const passkeyScopes = optional(values, 'require-passkey-for');
  if (dynamicClients === undefined && defaultScope === undefined && exchanges === undefined && statusListTtl === undefined && detailTypes === undefined && passkeyScopes === undefined) {
    throw new UsageError('nothing to change: give --dynamic-clients true|false, --default-scope, --may-exchange-for, --status-list-ttl, --authorization-detail-type and/or --require-passkey-for');
  }
  const changes = { dynamic_clients: dynamicClients, default_scope: defaultScope, may_exchange_for: exchanges, status_list_ttl: statusListTtl, authorization_detail_types: detailTypes, require_passkey_for: passkeyScopes };
  const updated = await admin.resources.update(id, checked(S.ResourceChanges, changes), CLI);
  out.result(
    updated,
    `${updated.id}: self-registered and metadata-document clients ${updated.dynamic_clients ? 'may' : 'may not'} ask for its scopes; default scope ${updated.default_scope ?? '(none)'}; ` +
      `status list ttl ${updated.status_list_ttl} s; passkey required for ${updated.require_passkey_for.join(' ') || '(no scope)'}`,
  );
}

export async function resourceRemove(_values: Values, { admin, out }: CommandContext, id?: string) {
  if (!id) throw new UsageError('usage: latchkey resource remove RESOURCE_URI');
  await admin.resources.remove(id, CLI);
  out.result({ id, removed: true }, `removed resource server ${id}`);
}

// ── Grants, initial access tokens, audit ────────────────────────────────────────────────────────

/** A grant's authorization details in a table cell: `type:identifier[actions]` each; an app's words never steer the terminal. */
function detailsCell(details: ReadonlyArray<Record<string, unknown>>): string {
  const text = (value: unknown) => String(value).replace(/[\p{Cc}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/gu, '?');
  const cell = details
    .map((d) => `${text(d.type)}${d.identifier === undefined ? '' : `:${text(d.identifier)}`}${Array.isArray(d.actions) ? `[${d.actions.map(text).join(',')}]` : ''}`)
    .join(' ');
  return cell || '-';
}

export async function grantList(values: Values, { admin, out }: CommandContext) {
  const email = required(values, 'user');
  const { grants } = await admin.grants.list(checked(S.GrantQuery, { user: email }));
  out.result(
    grants,
    grants.length
      ? table([['GRANT_ID', 'CLIENT', 'SCOPES', 'DETAILS', 'EXPIRES'], ...grants.map((g) => [g.grant_id, g.client_id, g.scope, detailsCell(g.authorization_details), when(g.expires_at)])])
      : `${email} has granted no access`,
  );
}

export async function grantRevoke(_values: Values, { admin, out }: CommandContext, id?: string) {
  if (!id) throw new UsageError('usage: latchkey grant revoke GRANT_ID');
  await admin.grants.revoke(id, CLI);
  out.result({ grant_id: id, revoked: true }, `revoked grant ${id} and every token issued under it`);
}

export async function initialAccessTokenCreate(values: Values, { admin, out }: CommandContext) {
  const created = await admin.credentials.createInitialAccessToken(checked(S.NewInitialAccessToken, { ttl: seconds(values, 'ttl') }), CLI);
  out.result(created, [`initial access token: ${created.initial_access_token}`, `valid until ${created.expires_at}; use it as a bearer token on POST /reg (RFC 7591)`]);
}

export async function auditList(values: Values, { admin, out }: CommandContext) {
  const limit = optional(values, 'limit');
  if (limit !== undefined && !/^\d+$/.test(limit)) throw new UsageError('--limit must be a number');
  const user = optional(values, 'user');
  if (user !== undefined) await admin.users.byEmail(user);
  const { events } = await admin.audit.list(
    checked(S.AuditQuery, { user, client: optional(values, 'client'), event: optional(values, 'event'), limit: limit ?? 100, before: optional(values, 'before') }),
  );
  out.result(
    events,
    events.length
      ? table([['ID', 'AT', 'EVENT', 'ACCOUNT', 'CLIENT', 'ACTOR'], ...events.map((e) => [String(e.id), e.at, e.event, e.account_id ?? '-', e.client_id ?? '-', e.actor ?? '-'])])
      : 'no audit events',
  );
}
