// The authorization details (RFC 9396) a grant holds: one per document (type and identifier),
// with the actions the user approved. Pure rules for comparing them, and withdrawing one
// document from a grant on the connected-apps page.
//
// Withdrawing rewrites the grant and nothing else: every token carries details only as far as its
// grant still holds them, checked where tokens are used (oidc/authorization-details.ts: on
// every refresh and every introspection), so an opaque token or refresh token issued before
// loses the document at once. A JWT access token cannot be checked that way, so the grant's JWT
// access tokens for that API are recalled through their status list; the app's next refresh
// gets what is left.
import type Provider from 'oidc-provider';
import type { Audit } from './audit.ts';
import type { ResourceCatalog } from './resources.ts';
import type { StatusLists } from './status-lists.ts';

export type Detail = Record<string, unknown> & { type: string; identifier?: string; actions?: string[] };

/** Two details are about the same thing when they have the same type and identifier. */
export function sameTarget(a: Detail, b: Detail): boolean {
  return a.type === b.type && (a.identifier ?? null) === (b.identifier ?? null);
}

/**
 * `requested` as far as `held` allows: each requested detail the held ones cover, its actions cut
 * to the held detail's actions; a detail left with no action is dropped.
 */
export function withinHeld(requested: readonly Detail[], held: readonly Detail[]): Detail[] {
  const kept: Detail[] = [];
  for (const detail of requested) {
    const match = held.find((h) => sameTarget(h, detail));
    if (!match) continue;
    if (!Array.isArray(detail.actions)) {
      kept.push(match.actions ? { ...detail, actions: [...match.actions] } : detail);
      continue;
    }
    const actions = match.actions ? detail.actions.filter((a) => match.actions?.includes(a)) : detail.actions;
    if (actions.length) kept.push({ ...detail, actions });
  }
  return kept;
}

/** Whether `held` covers every requested detail and every action of it. */
export function covers(held: readonly Detail[], requested: readonly Detail[]): boolean {
  return requested.every((detail) => {
    const match = held.find((h) => sameTarget(h, detail));
    if (!match) return false;
    return !detail.actions || !match.actions || detail.actions.every((a) => match.actions?.includes(a));
  });
}

/**
 * The grant's details after a consent: what this request asked about is what the user approved
 * now (an action unticked now is not kept from an earlier consent); the rest is kept.
 */
export function afterConsent(held: readonly Detail[], requested: readonly Detail[], approved: readonly Detail[]): Detail[] {
  return [...held.filter((detail) => !requested.some((r) => sameTarget(r, detail))), ...approved];
}

type GrantWithDetails = { rar?: Detail[]; accountId?: string; clientId?: string; save(): Promise<string> };

export function createDetailGrants({ provider, audit, catalog, statusLists }: {
  provider: Provider;
  audit: Audit;
  catalog: ResourceCatalog;
  statusLists?: Pick<StatusLists, 'recallGrant'> | undefined;
}) {
  return {
    /** The details a grant holds now (empty when none, or no such grant). */
    async heldBy(grantId: string): Promise<Detail[]> {
      const grant = (await provider.Grant.find(grantId)) as unknown as GrantWithDetails | undefined;
      return grant?.rar ?? [];
    },

    /**
     * Takes one document (type and identifier) out of the grant of `accountId`; false when the
     * grant is not theirs or does not hold it.
     */
    async withdraw(grantId: string, accountId: string, target: { type: string; identifier?: string | undefined }, by: { actor: 'user' | 'operator'; ip?: string | undefined }): Promise<boolean> {
      const grant = (await provider.Grant.find(grantId)) as unknown as GrantWithDetails | undefined;
      if (!grant || grant.accountId !== accountId) return false;
      const probe: Detail = { type: target.type, ...(target.identifier === undefined ? {} : { identifier: target.identifier }) };
      const kept = (grant.rar ?? []).filter((detail) => !sameTarget(detail, probe));
      if (kept.length === (grant.rar ?? []).length) return false;
      if (kept.length) grant.rar = kept;
      else delete grant.rar;
      await grant.save();
      const resource = (await catalog.current()).detailType(target.type)?.resource;
      if (resource?.tokenFormat === 'jwt') await statusLists?.recallGrant(grantId, [resource.id]);
      await audit.record({
        event: 'consent.changed',
        accountId,
        clientId: String(grant.clientId),
        grantId,
        actor: by.actor,
        ip: by.ip,
        details: { withdrawn: [probe] },
      });
      return true;
    },
  };
}

export type DetailGrants = ReturnType<typeof createDetailGrants>;
