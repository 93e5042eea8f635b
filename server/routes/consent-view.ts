// What the consent page shows, in plain words: who is asking and for what, grouped by resource.
import type { ResourceSnapshot } from '../services/resources.ts';

/** Plain-words descriptions of the OpenID Connect scopes. */
const OIDC_SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are: sign you in with your account identifier',
  profile: 'See your name',
  email: 'See your email address and whether it is verified',
  offline_access: 'Keep access when you are not using the app, until you revoke it',
};

export interface ClientView {
  id: string;
  name: string;
  initial: string;
  homepage?: string | undefined;
  policy?: string | undefined;
  terms?: string | undefined;
  /** For a client whose id is the URL of its metadata document: that document's host. */
  documentHost?: string | undefined;
}

interface ClientLike {
  clientId: string;
  clientName?: string | undefined;
  clientUri?: string | undefined;
  policyUri?: string | undefined;
  tosUri?: string | undefined;
}

/** Only http(s) links are shown: a registered `javascript:` URI must never become a link. */
function webLink(uri: string | undefined): string | undefined {
  const url = uri ? URL.parse(uri) : null;
  return url && (url.protocol === 'https:' || url.protocol === 'http:') ? url.href : undefined;
}

export function describeClient(client: ClientLike): ClientView {
  const name = client.clientName?.trim() || client.clientId;
  return {
    id: client.clientId,
    name,
    initial: [...name][0]?.toUpperCase() ?? '?',
    homepage: webLink(client.clientUri),
    policy: webLink(client.policyUri),
    terms: webLink(client.tosUri),
    documentHost: /^https:\/\//i.test(client.clientId) ? URL.parse(client.clientId)?.host : undefined,
  };
}

export interface ScopeLine {
  scope: string;
  description: string;
  /** Cannot be unticked: openid, or a scope the client registered as required. */
  required?: boolean;
}

export interface ConsentGroup {
  title: string;
  resource?: string | undefined;
  scopes: ScopeLine[];
  /**
   * "Contacts API may also use Calendar API for you: …": the other APIs of this request that may
   * exchange their tokens for this one's (RFC 8693), so the user knows the chain they allow.
   */
  delegation?: string | undefined;
}

/** The consent prompt's details: what the request asks for that the app does not have yet. */
export interface PromptDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

export function describeScope(scope: string, snapshot: ResourceSnapshot, resource?: string): string {
  return OIDC_SCOPE_DESCRIPTIONS[scope] ?? snapshot.describe(scope, resource) ?? scope;
}

/** What the request asks for that the app does not have yet, grouped by resource. */
export function consentGroups(details: unknown, snapshot: ResourceSnapshot, required: Set<string> = new Set(['openid'])): ConsentGroup[] {
  const d = (details ?? {}) as PromptDetails;
  const groups: ConsentGroup[] = [];
  const line = (resource?: string) => (scope: string) => ({ scope, description: describeScope(scope, snapshot, resource), required: required.has(scope) });
  const oidc = (d.missingOIDCScope ?? []).map(line());
  if (oidc.length) groups.push({ title: 'Your account', scopes: oidc });
  const requested = Object.keys(d.missingResourceScopes ?? {});
  for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
    const title = snapshot.get(indicator)?.name ?? indicator;
    const lines = scopes.map(line(indicator));
    const callers = requested.filter((other) => other !== indicator && snapshot.get(other)?.mayExchangeFor?.includes(indicator)).map((other) => snapshot.get(other)?.name ?? other);
    const delegation = callers.length
      ? `${callers.join(' and ')} may also use ${title} for you: ${lines.map((l) => l.description.charAt(0).toLowerCase() + l.description.slice(1)).join('; ')}.`
      : undefined;
    groups.push({ title, resource: indicator, scopes: lines, delegation });
  }
  return groups;
}

interface GrantLike {
  getOIDCScope(): string;
  resources?: Record<string, string>;
  getResourceScope(resource: string): string;
}

/** What a grant currently allows, grouped the same way. */
export function grantedGroups(grant: GrantLike, snapshot: ResourceSnapshot): ConsentGroup[] {
  const groups: ConsentGroup[] = [];
  const line = (resource?: string) => (scope: string) => ({ scope, description: describeScope(scope, snapshot, resource) });
  const oidc = grant.getOIDCScope().split(' ').filter(Boolean);
  if (oidc.length) groups.push({ title: 'Your account', scopes: oidc.map(line()) });
  for (const indicator of Object.keys(grant.resources ?? {})) {
    const scopes = grant.getResourceScope(indicator).split(' ').filter(Boolean);
    if (scopes.length) groups.push({ title: snapshot.get(indicator)?.name ?? indicator, resource: indicator, scopes: scopes.map(line(indicator)) });
  }
  return groups;
}
