// What users (and operators) can do to the access they delegated: list it, narrow it, revoke it,
// and end every session. Every change is audited; revocation tombstones the grant, so every
// token issued under it is dead at once (introspection answers active:false on the next call).
import type { Knex } from 'knex';
import type Provider from 'oidc-provider';
import type { AdapterPayload } from 'oidc-provider';
import type { Sealer } from '../../adapters/at-rest.ts';
import { findPayloads, findPayloadsByGrant, updatePayload } from '../../adapters/payload-queries.ts';
import { exceedsGrant, heldBy, narrowToGrant, withoutScope, type GrantScopes, type TokenScopes } from './grant-scopes.ts';
import type { Audit } from './audit.ts';
import type { StatusLists } from './status-lists.ts';

export interface GrantSummary {
  grantId: string;
  clientId: string;
  accountId: string;
  /** OpenID Connect scopes granted. */
  oidc: string[];
  /** Per resource indicator, the scopes granted. */
  resources: Record<string, string[]>;
  grantedAt: number;
  expiresAt: number | undefined;
  /** The authorization details (RFC 9396) the user approved, as the grant holds them; empty when none. */
  authorizationDetails: Array<Record<string, unknown>>;
}

interface GrantPayload extends AdapterPayload {
  openid?: { scope?: string };
  resources?: Record<string, string>;
  rar?: GrantScopes['rar'];
  rejected?: { openid?: { scope?: string }; resources?: Record<string, string> };
}

function without(scopes: string | undefined, removed: string | undefined): string[] {
  const taken = new Set(removed?.split(' ') ?? []);
  return (scopes?.split(' ') ?? []).filter((s) => s && !taken.has(s));
}

export function summarize(payload: GrantPayload): GrantSummary {
  const resources: Record<string, string[]> = {};
  for (const [indicator, scopes] of Object.entries(payload.resources ?? {})) {
    const granted = without(scopes, payload.rejected?.resources?.[indicator]);
    if (granted.length) resources[indicator] = granted;
  }
  return {
    grantId: String(payload.jti),
    clientId: String(payload.clientId),
    accountId: String(payload.accountId),
    oidc: without(payload.openid?.scope, payload.rejected?.openid?.scope),
    resources,
    grantedAt: Number(payload.iat) * 1000,
    expiresAt: payload.exp ? Number(payload.exp) * 1000 : undefined,
    authorizationDetails: Array.isArray(payload.rar) ? payload.rar.map((detail) => ({ ...detail })) : [],
  };
}

/** The resource servers for which `after` holds less than `before`. */
function narrowedResources(before: GrantScopes, after: GrantScopes): string[] {
  const kept = heldBy(after).resources;
  return [...heldBy(before).resources].filter(([indicator, scopes]) => [...scopes].some((s) => !kept.get(indicator)?.has(s))).map(([indicator]) => indicator);
}

export function createGrants({
  db,
  sealer,
  provider,
  audit,
  statusLists,
}: {
  db: Knex;
  sealer: Sealer;
  provider: Provider;
  audit: Audit;
  /** Recalls JWT access tokens (their status list bits); revoking a grant does it in the adapter (oidc/status-recall.ts). */
  statusLists?: Pick<StatusLists, 'recallGrant'> | undefined;
}) {
  /**
   * A grant without offline_access does not outlive logout (oidc-provider revokes a session's
   * grants unless `persistsLogout`): the sessions that gave this one forget that it persisted.
   */
  async function bindToSessions(grantId: string, grant: GrantPayload): Promise<void> {
    const clientId = String(grant.clientId);
    for (const session of await findPayloads(db, sealer, 'Session', { accountId: String(grant.accountId) })) {
      const authorization = (session.authorizations as Record<string, { grantId?: string; persistsLogout?: boolean }> | undefined)?.[clientId];
      if (!authorization || authorization.grantId !== grantId || !authorization.persistsLogout) continue;
      await updatePayload(db, sealer, 'Session', String(session.jti), (payload) => {
        const authorizations = payload.authorizations as Record<string, { persistsLogout?: boolean }> | undefined;
        const entry = authorizations?.[clientId];
        if (!entry?.persistsLogout) return undefined;
        return { ...payload, authorizations: { ...authorizations, [clientId]: { ...entry, persistsLogout: false } } };
      });
    }
  }

  async function find(grantId: string): Promise<GrantSummary | undefined> {
    const payload = (await provider.Grant.adapter.find(grantId)) as GrantPayload | undefined;
    return payload ? summarize({ ...payload, jti: grantId }) : undefined;
  }

  return {
    find,

    async forAccount(accountId: string): Promise<GrantSummary[]> {
      const payloads = (await findPayloads(db, sealer, 'Grant', { accountId })) as GrantPayload[];
      return payloads.map(summarize).sort((a, b) => b.grantedAt - a.grantedAt);
    },

    /** Ends the grant and everything issued under it. */
    async revoke(grantId: string, by: { actor: 'user' | 'operator'; ip?: string | undefined; details?: Record<string, unknown> }): Promise<boolean> {
      const grant = await find(grantId);
      if (!grant) return false;
      await provider.Grant.adapter.destroy(grantId);
      await audit.record({ event: 'consent.revoked', accountId: grant.accountId, clientId: grant.clientId, grantId, actor: by.actor, ip: by.ip, details: by.details });
      return true;
    },

    /**
     * Takes one scope out of the grant, and out of every token issued under it: access tokens and
     * unredeemed codes carrying it are recalled; refresh tokens are narrowed, so the app's next
     * refresh yields only what is left. A resource whose last scope goes leaves the grant (no
     * token for it is issued again). Without offline_access the grant ends with the login session
     * that gave it: its refresh tokens become bound to that session, and signing out revokes it.
     * The grant is rewritten with a compare-and-swap, so a consent or another edit made meanwhile
     * is kept, never overwritten; a refresh racing this edit is held to the grant when its token
     * is next used (server/oidc/grant-bound.ts).
     */
    async removeScope(grantId: string, scope: string, by: { actor: 'user' | 'operator'; ip?: string }, resource?: string): Promise<boolean> {
      let before: GrantPayload | undefined;
      const updated = await updatePayload(db, sealer, 'Grant', grantId, (payload) => {
        const { grant, removed } = withoutScope(payload as GrantPayload, scope, resource);
        before = payload as GrantPayload;
        return removed ? grant : undefined;
      });
      if (!updated) return false;
      const grant = updated as GrantPayload;
      // JWT access tokens cannot be narrowed and their entries do not say which scopes they
      // carry: every one of this grant for an API that lost a scope is recalled; the app's next
      // refresh gets what is left.
      await statusLists?.recallGrant(grantId, narrowedResources(before as GrantPayload, grant));
      for (const token of await findPayloadsByGrant(db, sealer, 'RefreshToken', grantId)) {
        await updatePayload(db, sealer, 'RefreshToken', String(token.jti), (payload) => {
          const narrowed = narrowToGrant(payload as TokenScopes, grant);
          if (!narrowed.changed) return undefined;
          const { resource: _resource, ...rest } = payload;
          return { ...rest, scope: narrowed.scope, expiresWithSession: narrowed.expiresWithSession, ...(narrowed.resource === undefined ? {} : { resource: narrowed.resource }) };
        });
      }
      for (const token of await findPayloadsByGrant(db, sealer, 'AccessToken', grantId)) {
        if (exceedsGrant(token as { scope?: string; aud?: string }, grant)) await provider.AccessToken.adapter.destroy(String(token.jti));
      }
      for (const code of await findPayloadsByGrant(db, sealer, 'AuthorizationCode', grantId)) {
        if (narrowToGrant(code as TokenScopes, grant).changed) await provider.AuthorizationCode.adapter.destroy(String(code.jti));
      }
      if (scope === 'offline_access') await bindToSessions(grantId, grant);
      await audit.record({
        event: 'consent.changed',
        accountId: String(grant.accountId),
        clientId: String(grant.clientId),
        grantId,
        actor: by.actor,
        ip: by.ip,
        details: { removed: [scope], ...(resource ? { resource } : {}) },
      });
      return true;
    },

    /**
     * Ends every session of the account and revokes what those sessions authorised without
     * offline_access (what a logout in each of them would revoke).
     */
    async signOutEverywhere(accountId: string, by: { ip?: string }): Promise<number> {
      const sessions = await findPayloads(db, sealer, 'Session', { accountId });
      for (const session of sessions) {
        const authorizations = (session.authorizations ?? {}) as Record<string, { grantId?: string; persistsLogout?: boolean }>;
        for (const authorization of Object.values(authorizations)) {
          if (authorization.grantId && !authorization.persistsLogout) await provider.Grant.adapter.destroy(authorization.grantId);
        }
        await provider.Session.adapter.destroy(String(session.jti));
      }
      await audit.record({ event: 'logout.everywhere', accountId, actor: 'user', ip: by.ip, details: { sessions: sessions.length } });
      return sessions.length;
    },
  };
}

export type Grants = ReturnType<typeof createGrants>;
