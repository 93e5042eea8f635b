// Authentication strength as policy (issue 19):
// - `acr_values` naming only `urn:latchkey:acr:passkey`, or a scope an API requires a passkey for
//   (`--require-passkey-for`), sends a session signed in with a password alone back through the
//   login prompt (reason `passkey_required`), where our page asks for a passkey (a step-up) before
//   the consent page. oidc-provider's own login checks (no session, max_age, essential acr
//   claims) run first; this one is added after them.
// - Whatever the authorization endpoint did, the token endpoint gives such a scope only to a code
//   or refresh token from a passkey sign-in: the refresh token keeps the `acr` of the sign-in that
//   made its grant, so a refresh keeps the scope only while that was a passkey. Client
//   credentials (no user) never get it.
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { ResourceCatalog, ResourceServer, ResourceSnapshot } from '../services/resources.ts';
import { ACR_PASSKEY, ACR_VALUES } from '../services/authentication-strength.ts';

type Ctx = KoaContextWithOIDC;

export const PASSKEY_REQUIRED = 'passkey_required';

export interface PasskeyScope {
  resource: ResourceServer;
  scope: string;
}

/** The requested scopes some API requires a passkey for (among the APIs the request names, if it names any). */
export function passkeyScopesIn(snapshot: ResourceSnapshot, scopes: readonly string[], resources?: readonly string[]): PasskeyScope[] {
  const found: PasskeyScope[] = [];
  for (const scope of scopes) {
    for (const resource of snapshot.ownersOf(scope)) {
      if (resources && !resources.includes(resource.id)) continue;
      if (resource.requirePasskeyFor?.includes(scope)) found.push({ resource, scope });
    }
  }
  return found;
}

function listOf(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

/** Whether the client's `acr_values` accept only a passkey sign-in (values we do not know are ignored). */
export function acrValuesDemandPasskey(acrValues: unknown): boolean {
  const known = (listOf(acrValues) ?? []).filter((v) => (ACR_VALUES as readonly string[]).includes(v));
  return known.length > 0 && known.every((v) => v === ACR_PASSKEY);
}

/**
 * Why a request needs a passkey, in the words of the step-up and consent pages: "Contacts API
 * requires a passkey for: Change your contacts" (one line per API).
 */
export function passkeyReasons(snapshot: ResourceSnapshot, params: { scope?: unknown; resource?: unknown; acr_values?: unknown }): string[] {
  const byApi = new Map<string, string[]>();
  for (const { resource, scope } of passkeyScopesIn(snapshot, listOf(params.scope) ?? [], listOf(params.resource))) {
    byApi.set(resource.name, [...(byApi.get(resource.name) ?? []), snapshot.describe(scope, resource.id) ?? scope]);
  }
  const lines = [...byApi].map(([api, words]) => `${api} requires a passkey for: ${words.join('; ')}`);
  if (!lines.length && acrValuesDemandPasskey(params.acr_values)) lines.push('The app asks you to sign in with a passkey');
  return lines;
}

/**
 * The login check: a signed-in session below the strength this request needs. `accountNeedsPasskey`
 * (PASSKEY_AS_SECOND_FACTOR=required-when-registered): an account with a passkey needs one on
 * every request, so a session signed in with a password before its first passkey is stepped up too.
 */
export function passkeyRequiredCheck(catalog: ResourceCatalog, accountNeedsPasskey?: (accountId: string) => Promise<boolean>) {
  return new interactionPolicy.Check(
    PASSKEY_REQUIRED,
    'a passkey sign-in is required',
    async (ctx: Ctx) => {
      const { oidc } = ctx;
      // No session: the provider's own `no_session` check already asks for a sign-in.
      if (!oidc.session?.accountId || oidc.acr === ACR_PASSKEY) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      if (acrValuesDemandPasskey(oidc.params?.acr_values)) return interactionPolicy.Check.REQUEST_PROMPT;
      if (accountNeedsPasskey && (await accountNeedsPasskey(oidc.session.accountId))) return interactionPolicy.Check.REQUEST_PROMPT;
      const snapshot = await catalog.current();
      const needed = passkeyScopesIn(snapshot, listOf(oidc.params?.scope) ?? [], listOf(oidc.params?.resource));
      return needed.length ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    },
  );
}

/** The `acr` of the sign-in a token request stands on: its code's or refresh token's. */
function signInAcr(ctx: Ctx): string | undefined {
  const entities = ctx.oidc?.entities as { AuthorizationCode?: { acr?: string }; RefreshToken?: { acr?: string } } | undefined;
  return entities?.AuthorizationCode?.acr ?? entities?.RefreshToken?.acr;
}

type ResourceHooks = {
  getResourceServerInfo(ctx: Ctx, indicator: string, client: never): Promise<{ scope: string } & Record<string, unknown>>;
} & Record<string, unknown>;

/**
 * The resource indicator hooks (scope-policy.ts), with passkey-only scopes taken out of what a
 * token may carry when the sign-in behind it was not a passkey. At the authorization endpoint
 * they stay: consent shows them, after the step-up the login check above demands.
 */
export function withPasskeyScopes<T extends ResourceHooks>(hooks: T, catalog: ResourceCatalog): T {
  return {
    ...hooks,
    async getResourceServerInfo(ctx: Ctx, indicator: string, client: never) {
      const info = await hooks.getResourceServerInfo(ctx, indicator, client);
      const route = ctx.oidc?.route;
      if (route === 'authorization' || route === 'pushed_authorization_request' || route === 'resume') return info;
      if (signInAcr(ctx) === ACR_PASSKEY) return info;
      const needs = (await catalog.current()).get(indicator)?.requirePasskeyFor ?? [];
      if (needs.length === 0) return info;
      return { ...info, scope: info.scope.split(' ').filter((s) => !needs.includes(s)).join(' ') };
    },
  };
}
