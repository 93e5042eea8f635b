// The consent step: show what the app asks for, scope by scope, and how long it may keep access;
// record exactly what the user ticked.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { Accounts } from '../services/accounts.ts';
import type { Audit } from '../services/audit.ts';
import type { ResourceCatalog } from '../services/resources.ts';
import { decide, durationCaps, durationChoices, requiredScopes, type DurationPolicy, type RequestedScopes } from '../services/consent.ts';
import type { Views } from '../http/views.ts';
import type { Csrf } from '../http/csrf.ts';
import { field, fields } from '../http/body.ts';
import { consentGroups, describeClient, grantedGroups, type PromptDetails } from './consent-view.ts';
import { approvedDetails, detailLines, forGrant, promptDetails } from './consent-details.ts';
import { afterConsent, type Detail } from '../services/detail-grants.ts';
import { passkeyReasons } from '../oidc/passkey-policy.ts';

/** An interaction as the provider describes it (the login and consent routes share it). */
export type Details = Awaited<ReturnType<Provider['interactionDetails']>>;
type Grant = InstanceType<Provider['Grant']>;

export interface ConsentDeps {
  provider: Provider;
  accounts: Accounts;
  catalog: ResourceCatalog;
  views: Views;
  csrf: Csrf;
  audit: Audit;
  durations: DurationPolicy;
  isVerifiedClient: (clientId: string) => Promise<boolean>;
}

function requested(details: Details): RequestedScopes {
  const missing = details.prompt.details as PromptDetails;
  return { oidc: missing.missingOIDCScope ?? [], resources: missing.missingResourceScopes ?? {} };
}

export class ConsentRefused extends Error {}

export function createConsentStep(deps: ConsentDeps) {
  const { provider, views, csrf, catalog } = deps;

  async function existingGrant(details: Details): Promise<Grant | undefined> {
    return details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  }

  async function offered(details: Details, client: Record<string, unknown>) {
    const resources = Object.keys(requested(details).resources);
    return durationChoices(deps.durations, durationCaps(client, resources, await catalog.current()));
  }

  /** Writes the decision into the grant (new or existing) and saves it. */
  async function record(details: Details, ticked: Set<string>, durationValue: number | undefined, client: Record<string, unknown>, tickedFor: (field: string) => readonly string[]) {
    const accountId = details.session?.accountId;
    if (!accountId) throw new errors.SessionNotFound('no signed-in user for this interaction');
    const clientId = String(details.params.client_id);
    const required = requiredScopes(client);
    const decision = decide(requested(details), ticked, required);
    // RFC 9396: the details asked for, with only the actions the user left ticked.
    const asked = promptDetails(details.prompt.details);
    const approved = approvedDetails(asked, tickedFor);
    const optionalGranted = [...decision.granted.oidc, ...Object.values(decision.granted.resources).flat()].some((s) => !required.has(s));
    if (asked.length ? !approved.length && !optionalGranted : decision.deniedEverything) throw new ConsentRefused();

    let grant = await existingGrant(details);
    const isNew = !grant;
    let expiresAt: number | undefined;
    if (!grant) {
      const { choices, selected } = await offered(details, client);
      const choice = choices.find((c) => c.value === (durationValue ?? selected));
      if (!choice) throw new errors.InvalidRequest('unknown duration');
      grant = new provider.Grant({ accountId, clientId, expiresIn: choice.seconds } as never);
      expiresAt = Date.now() + choice.seconds * 1000;
    }
    // Declined scopes are declined for this request only: they let the provider finish now,
    // and a later request for them asks again (loadExistingGrant drops them, T29).
    delete (grant as unknown as { rejected?: unknown }).rejected;
    if (decision.granted.oidc.length) grant.addOIDCScope(decision.granted.oidc.join(' '));
    if (decision.declined.oidc.length) grant.rejectOIDCScope(decision.declined.oidc.join(' '));
    const claims = (details.prompt.details as PromptDetails).missingOIDCClaims;
    if (claims?.length) grant.addOIDCClaims(claims);
    for (const [indicator, scopes] of Object.entries(decision.granted.resources)) grant.addResourceScope(indicator, scopes.join(' '));
    for (const [indicator, scopes] of Object.entries(decision.declined.resources)) grant.rejectResourceScope(indicator, scopes.join(' '));
    if (asked.length) {
      const withDetails = grant as unknown as { rar?: Detail[] };
      const held = afterConsent(withDetails.rar ?? [], asked, forGrant(approved, await catalog.current()));
      if (held.length) withDetails.rar = held;
      else delete withDetails.rar;
    }
    const grantId = await grant.save();
    await deps.audit.record({
      event: isNew ? 'consent.given' : 'consent.changed',
      accountId,
      clientId,
      grantId,
      actor: 'user',
      details: {
        granted: [...decision.granted.oidc, ...Object.values(decision.granted.resources).flat()],
        declined: [...decision.declined.oidc, ...Object.values(decision.declined.resources).flat()],
        ...(expiresAt ? { expiresAt: new Date(expiresAt).toISOString() } : {}),
        ...(asked.length ? { authorizationDetails: approved } : {}),
      },
    });
    return grantId;
  }

  return {
    async render(ctx: Context, details: Details) {
      const clientId = String(details.params.client_id);
      const client = await provider.Client.find(clientId);
      if (!client) throw new ConsentRefused();
      const metadata = client as unknown as Record<string, unknown>;
      const user = details.session?.accountId ? await deps.accounts.findById(details.session.accountId) : undefined;
      const snapshot = await catalog.current();
      const grant = await existingGrant(details);
      const durations = grant ? undefined : await offered(details, metadata);
      await views.respond(ctx, 'consent', {
        title: `Allow ${client.clientName ?? clientId}?`,
        returnHost: URL.parse(String(details.params.redirect_uri))?.host || String(details.params.redirect_uri),
        uid: details.uid,
        csrf: csrf.tokenFor(`interaction:${details.uid}`),
        client: describeClient(client),
        verified: await deps.isVerifiedClient(clientId),
        user: user ? { email: user.email, name: user.name } : undefined,
        groups: consentGroups(details.prompt.details, snapshot, requiredScopes(metadata)),
        details: detailLines(promptDetails(details.prompt.details), snapshot),
        already: grant ? grantedGroups(grant, snapshot) : [],
        durations,
        expiresAt: grant?.exp ? new Date(Number(grant.exp) * 1000) : undefined,
        // Why the user was just asked for a passkey (issue 19): "Contacts API requires a passkey for: …".
        passkeyReasons: passkeyReasons(snapshot, details.params),
      });
    },

    async submit(ctx: Context, details: Details) {
      const client = await provider.Client.find(String(details.params.client_id));
      if (!client) throw new ConsentRefused();
      const raw = field(ctx.request.body, 'duration');
      const duration = raw === undefined ? undefined : /^\d{1,10}$/.test(raw) ? Number(raw) : Number.NaN;
      if (Number.isNaN(duration)) throw new errors.InvalidRequest('unknown duration');
      return record(details, new Set(fields(ctx.request.body, 'scope')), duration, client as unknown as Record<string, unknown>, (name) => fields(ctx.request.body, name));
    },
  };
}

export type ConsentStep = ReturnType<typeof createConsentStep>;
