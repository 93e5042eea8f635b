// What users (and operators) can do to the access they delegated: list it, narrow it, revoke it,
// and end every session. Every change is audited; revocation tombstones the grant, so every
// token issued under it is dead at once (introspection answers active:false on the next call).
import type { Knex } from 'knex';
import type Provider from 'oidc-provider';
import type { AdapterPayload } from 'oidc-provider';
import type { Sealer } from '../../adapters/at-rest.ts';
import { findPayloads, findPayloadsByGrant } from '../../adapters/knex-adapter.ts';
import type { Audit } from './audit.ts';

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
}

interface GrantPayload extends AdapterPayload {
  openid?: { scope?: string };
  resources?: Record<string, string>;
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
  };
}

export function createGrants({ db, sealer, provider, audit }: { db: Knex; sealer: Sealer; provider: Provider; audit: Audit }) {
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
    async revoke(grantId: string, by: { actor: 'user' | 'operator'; ip?: string }): Promise<boolean> {
      const grant = await find(grantId);
      if (!grant) return false;
      await provider.Grant.adapter.destroy(grantId);
      await audit.record({ event: 'consent.revoked', accountId: grant.accountId, clientId: grant.clientId, grantId, actor: by.actor, ip: by.ip });
      return true;
    },

    /**
     * Takes one scope out of the grant. Access tokens carrying it are recalled; refresh tokens
     * stay, and the next refresh yields tokens without it (the provider filters by the grant).
     */
    async removeScope(grantId: string, scope: string, by: { actor: 'user' | 'operator'; ip?: string }): Promise<boolean> {
      const grant = await provider.Grant.find(grantId);
      if (!grant) return false;
      const shape = grant as unknown as { openid?: { scope?: string }; resources?: Record<string, string> };
      let removed = false;
      if (scope !== 'openid' && shape.openid?.scope?.split(' ').includes(scope)) {
        shape.openid.scope = shape.openid.scope.split(' ').filter((s) => s !== scope).join(' ');
        removed = true;
      }
      for (const [indicator, scopes] of Object.entries(shape.resources ?? {})) {
        if (scopes.split(' ').includes(scope)) {
          (shape.resources as Record<string, string>)[indicator] = scopes.split(' ').filter((s) => s !== scope).join(' ');
          removed = true;
        }
      }
      if (!removed) return false;
      await grant.save();
      for (const token of await findPayloadsByGrant(db, sealer, 'AccessToken', grantId)) {
        if (typeof token.scope === 'string' && token.scope.split(' ').includes(scope)) await provider.AccessToken.adapter.destroy(String(token.jti));
      }
      await audit.record({
        event: 'consent.changed',
        accountId: grant.accountId,
        clientId: grant.clientId,
        grantId,
        actor: by.actor,
        ip: by.ip,
        details: { removed: [scope] },
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
