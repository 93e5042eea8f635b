// The operator commands. Each takes parsed options and a context; none prints secrets twice:
// a client or resource secret is shown once, at creation, and stored only sealed.
import type { Knex } from 'knex';
import type { Config } from '../server/config/env.ts';
import type { KeyMaterial } from '../server/config/keys.ts';
import type { Management } from '../server/management.ts';
import type { Output } from './output.ts';
import { table, UsageError } from './output.ts';
import { GRANT_TYPES, type GrantType } from '../server/services/clients.ts';
import type { TokenFormat } from '../server/services/resources.ts';

export interface CommandContext {
  config: Readonly<Config>;
  keys: KeyMaterial;
  db: Knex;
  management: Management;
  out: Output;
  /** Builds the provider (only the commands that mint provider tokens need it). */
  provider(): Promise<import('oidc-provider').default>;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

function required(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value;
}

function optional(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function list(values: Values, name: string): string[] {
  const value = values[name];
  if (Array.isArray(value)) return value;
  return typeof value === 'string' ? [value] : [];
}

export async function userAdd(values: Values, { management, out }: CommandContext) {
  const user = await management.accounts.create({
    email: required(values, 'email'),
    password: required(values, 'password'),
    name: optional(values, 'name'),
    emailVerified: values['email-verified'] === true,
  });
  out.result({ id: user.id, email: user.email, name: user.name }, `created user ${user.email} (${user.id})`);
}

function parseGrantTypes(raw: string | undefined): GrantType[] | undefined {
  if (raw === undefined) return undefined;
  const types = raw.split(/[\s,]+/).filter(Boolean);
  const unknown = types.find((t) => !(GRANT_TYPES as readonly string[]).includes(t));
  if (unknown) throw new UsageError(`unknown grant type ${unknown}; choose from: ${GRANT_TYPES.join(' ')}`);
  return types as GrantType[];
}

export async function clientAdd(values: Values, { management, out }: CommandContext) {
  const created = await management.clients.add({
    name: required(values, 'name'),
    redirectUris: list(values, 'redirect-uri'),
    public: values.public === true,
    native: values.native === true,
    scope: optional(values, 'scope'),
    resources: list(values, 'resource'),
    grantTypes: parseGrantTypes(optional(values, 'grant-types')),
    logoUri: optional(values, 'logo-uri'),
    clientUri: optional(values, 'client-uri'),
    policyUri: optional(values, 'policy-uri'),
    tosUri: optional(values, 'tos-uri'),
  });
  const lines = [`client_id:     ${created.clientId}`];
  if (created.clientSecret) lines.push(`client_secret: ${created.clientSecret}`, '(the secret is shown only now; it is stored encrypted)');
  out.result(
    {
      client_id: created.clientId,
      ...(created.clientSecret ? { client_secret: created.clientSecret } : {}),
      ...created.metadata,
    },
    lines,
  );
}

export async function clientList(_values: Values, { management, out }: CommandContext) {
  const clients = await management.clients.list();
  out.result(
    clients.map((c) => ({
      client_id: c.clientId,
      client_name: c.metadata.client_name,
      kind: c.kind,
      source: c.source,
      verified: c.verified,
      confidential: c.hasSecret,
      grant_types: c.metadata.grant_types,
      redirect_uris: c.metadata.redirect_uris,
      scope: c.metadata.scope,
      resource_scopes: c.metadata.resource_scopes,
      created_at: new Date(c.createdAt).toISOString(),
    })),
    clients.length
      ? table([
          ['CLIENT_ID', 'NAME', 'KIND', 'SOURCE', 'VERIFIED'],
          ...clients.map((c) => [c.clientId, String(c.metadata.client_name ?? ''), c.kind, c.source, c.verified ? 'yes' : 'no']),
        ])
      : 'no clients',
  );
}

export async function clientRemove(values: Values, { management, out }: CommandContext, id?: string) {
  if (!id) throw new UsageError('usage: latchkey client remove CLIENT_ID');
  const removed = await management.clients.remove(id);
  if (!removed) throw new UsageError(`no client ${id}`);
  out.result({ client_id: id, removed: true }, `removed client ${id} and everything issued to it`);
}

export async function clientVerify(values: Values, { management, out }: CommandContext, id?: string) {
  if (!id) throw new UsageError('usage: latchkey client verify CLIENT_ID [--unverify]');
  const verified = values.unverify !== true;
  if (!(await management.store.setVerified(id, verified))) throw new UsageError(`no client ${id}`);
  out.result({ client_id: id, verified }, `${id} is now ${verified ? 'verified' : 'unverified'}`);
}

function parseDescriptions(raw: string[]): Map<string, string> {
  const descriptions = new Map<string, string>();
  for (const entry of raw) {
    const eq = entry.indexOf('=');
    if (eq < 1) throw new UsageError(`--describe takes SCOPE=TEXT, got ${JSON.stringify(entry)}`);
    descriptions.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return descriptions;
}

export async function resourceAdd(values: Values, { management, out }: CommandContext) {
  const id = required(values, 'id');
  const name = optional(values, 'name');
  const scopes = required(values, 'scope').split(/\s+/).filter(Boolean);
  const descriptions = parseDescriptions(list(values, 'describe'));
  for (const scope of descriptions.keys()) {
    if (!scopes.includes(scope)) throw new UsageError(`--describe names ${scope}, which is not in --scope`);
  }
  const format = optional(values, 'format') ?? 'opaque';
  if (format !== 'opaque' && format !== 'jwt') throw new UsageError('--format must be opaque or jwt');
  const ttl = optional(values, 'ttl');
  if (ttl !== undefined && !/^\d+$/.test(ttl)) throw new UsageError('--ttl must be a number of seconds');
  const maxGrant = optional(values, 'max-grant-duration');
  if (maxGrant !== undefined && !/^\d+$/.test(maxGrant)) throw new UsageError('--max-grant-duration must be a number of seconds');

  const label = name ?? URL.parse(id)?.host ?? id;
  const created = await management.resources.add({
    id,
    name,
    tokenFormat: format as TokenFormat,
    accessTokenTtl: ttl === undefined ? undefined : Number(ttl),
    maxGrantDuration: maxGrant === undefined ? undefined : Number(maxGrant),
    dynamicClients: values['dynamic-clients'] === true,
    defaultScope: scopeList(optional(values, 'default-scope')),
    scopes: scopes.map((scope) => ({ scope, description: descriptions.get(scope) ?? `Use ${label} with the "${scope}" permission` })),
  });
  out.result(
    {
      id: created.resource.id,
      name: created.resource.name,
      token_format: created.resource.tokenFormat,
      access_token_ttl: created.resource.accessTokenTtl,
      dynamic_clients: created.resource.dynamicClients,
      default_scope: created.resource.defaultScope.join(' ') || null,
      scopes: created.resource.scopes,
      client_id: created.clientId,
      client_secret: created.clientSecret,
    },
    [
      `resource server ${created.resource.id} (${created.resource.name})`,
      'introspection credentials (client_secret_basic):',
      `  client_id:     ${created.clientId}`,
      `  client_secret: ${created.clientSecret}`,
      '(the secret is shown only now; it is stored encrypted)',
    ],
  );
}

export async function resourceList(_values: Values, { management, out }: CommandContext) {
  const resources = await management.resources.list();
  out.result(
    resources.map((r) => ({
      id: r.id,
      name: r.name,
      token_format: r.tokenFormat,
      access_token_ttl: r.accessTokenTtl,
      client_id: r.introspectionClientId,
      dynamic_clients: r.dynamicClients,
      default_scope: r.defaultScope.join(' ') || null,
      scopes: r.scopes,
    })),
    resources.length
      ? table([
          ['ID', 'NAME', 'FORMAT', 'TTL', 'DYNAMIC CLIENTS', 'SCOPES'],
          ...resources.map((r) => [r.id, r.name, r.tokenFormat, String(r.accessTokenTtl), r.dynamicClients ? 'yes' : 'no', r.scopes.map((s) => s.scope).join(' ')]),
        ])
      : 'no resource servers',
  );
}

/** A space-separated list of scopes (undefined when the option is absent). */
function scopeList(raw: string | undefined): string[] | undefined {
  return raw === undefined ? undefined : raw.split(/\s+/).filter(Boolean);
}

function trueOrFalse(raw: string | undefined, name: string): boolean | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new UsageError(`--${name} takes true or false, got ${JSON.stringify(raw)}`);
}

export async function resourceUpdate(values: Values, { management, out }: CommandContext, id?: string) {
  if (!id) throw new UsageError('usage: latchkey resource update RESOURCE_URI [--dynamic-clients true|false] [--default-scope "a b"]');
  const changes = { dynamicClients: trueOrFalse(optional(values, 'dynamic-clients'), 'dynamic-clients'), defaultScope: scopeList(optional(values, 'default-scope')) };
  if (changes.dynamicClients === undefined && changes.defaultScope === undefined) throw new UsageError('nothing to change: give --dynamic-clients true|false and/or --default-scope');
  const updated = await management.resources.update(id, changes);
  if (!updated) throw new UsageError(`no resource server ${id}`);
  out.result(
    { id: updated.id, dynamic_clients: updated.dynamicClients, default_scope: updated.defaultScope.join(' ') || null },
    `${updated.id}: self-registered and metadata-document clients ${updated.dynamicClients ? 'may' : 'may not'} ask for its scopes; default scope ${updated.defaultScope.join(' ') || '(none)'}`,
  );
}

export async function resourceRemove(_values: Values, { management, out }: CommandContext, id?: string) {
  if (!id) throw new UsageError('usage: latchkey resource remove RESOURCE_URI');
  if (!(await management.resources.remove(id))) throw new UsageError(`no resource server ${id}`);
  out.result({ id, removed: true }, `removed resource server ${id}`);
}

export async function initialAccessTokenCreate(values: Values, ctx: CommandContext) {
  const ttlRaw = optional(values, 'ttl') ?? String(7 * 24 * 3600);
  if (!/^\d+$/.test(ttlRaw) || Number(ttlRaw) < 60) throw new UsageError('--ttl must be at least 60 seconds');
  const provider = await ctx.provider();
  const token = new provider.InitialAccessToken({ expiresIn: Number(ttlRaw) } as never);
  const value = await token.save();
  const expiresAt = new Date(Date.now() + Number(ttlRaw) * 1000).toISOString();
  ctx.out.result({ initial_access_token: value, expires_at: expiresAt }, [
    `initial access token: ${value}`,
    `valid until ${expiresAt}; use it as a bearer token on POST /reg (RFC 7591)`,
  ]);
}

async function grantsService(ctx: CommandContext) {
  const { createGrants } = await import('../server/services/grants.ts');
  const { createAudit } = await import('../server/services/audit.ts');
  const { sealerFor } = await import('../server/config/keys.ts');
  const audit = createAudit(ctx.db, { error: (message, error) => console.error(message, error) });
  return { grants: createGrants({ db: ctx.db, sealer: sealerFor(ctx.keys), provider: await ctx.provider(), audit }), audit };
}

export async function grantList(values: Values, ctx: CommandContext) {
  const email = required(values, 'user');
  const user = await ctx.management.accounts.findByEmail(email);
  if (!user) throw new UsageError(`no user ${email}`);
  const { grants } = await grantsService(ctx);
  const list = (await grants.forAccount(user.id)).filter((g) => g.clientId !== 'latchkey-account');
  ctx.out.result(
    list.map((g) => ({
      grant_id: g.grantId,
      client_id: g.clientId,
      scope: [...g.oidc, ...Object.values(g.resources).flat()].join(' '),
      resources: g.resources,
      granted_at: new Date(g.grantedAt).toISOString(),
      expires_at: g.expiresAt ? new Date(g.expiresAt).toISOString() : null,
    })),
    list.length
      ? table([
          ['GRANT_ID', 'CLIENT', 'SCOPES', 'EXPIRES'],
          ...list.map((g) => [g.grantId, g.clientId, [...g.oidc, ...Object.values(g.resources).flat()].join(' '), g.expiresAt ? new Date(g.expiresAt).toISOString() : '-']),
        ])
      : `${email} has granted no access`,
  );
}

export async function grantRevoke(_values: Values, ctx: CommandContext, id?: string) {
  if (!id) throw new UsageError('usage: latchkey grant revoke GRANT_ID');
  const { grants, audit } = await grantsService(ctx);
  if (!(await grants.revoke(id, { actor: 'operator' }))) throw new UsageError(`no grant ${id}`);
  await audit.idle();
  ctx.out.result({ grant_id: id, revoked: true }, `revoked grant ${id} and every token issued under it`);
}

export async function auditList(values: Values, ctx: CommandContext) {
  const email = optional(values, 'user');
  const user = email ? await ctx.management.accounts.findByEmail(email) : undefined;
  if (email && !user) throw new UsageError(`no user ${email}`);
  const { createAudit } = await import('../server/services/audit.ts');
  const limit = optional(values, 'limit');
  if (limit !== undefined && !/^\d+$/.test(limit)) throw new UsageError('--limit must be a number');
  const entries = await createAudit(ctx.db, console).list({ accountId: user?.id, clientId: optional(values, 'client'), limit: limit ? Number(limit) : 100 });
  ctx.out.result(
    entries.map((e) => ({
      id: e.id,
      at: new Date(e.at).toISOString(),
      event: e.event,
      account_id: e.accountId ?? null,
      client_id: e.clientId ?? null,
      grant_id: e.grantId ?? null,
      actor: e.actor ?? null,
      ip: e.ip ?? null,
      details: e.details,
    })),
    entries.length
      ? table([['AT', 'EVENT', 'ACCOUNT', 'CLIENT', 'ACTOR'], ...entries.map((e) => [new Date(e.at).toISOString(), e.event, e.accountId ?? '-', e.clientId ?? '-', e.actor ?? '-'])])
      : 'no audit events',
  );
}
