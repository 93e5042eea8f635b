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
  };
}

export interface ScopeLine {
  scope: string;
  description: string;
}

export interface ConsentGroup {
  title: string;
  resource?: string | undefined;
  scopes: ScopeLine[];
}

interface PromptDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

export function consentGroups(details: unknown, snapshot: ResourceSnapshot): ConsentGroup[] {
  const d = (details ?? {}) as PromptDetails;
  const groups: ConsentGroup[] = [];
  const oidc = (d.missingOIDCScope ?? []).map((scope) => ({
    scope,
    description: OIDC_SCOPE_DESCRIPTIONS[scope] ?? scope,
  }));
  for (const claim of d.missingOIDCClaims ?? []) oidc.push({ scope: claim, description: `See your ${claim.replaceAll('_', ' ')}` });
  if (oidc.length) groups.push({ title: 'Your account', scopes: oidc });

  for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
    const resource = snapshot.get(indicator);
    groups.push({
      title: resource?.name ?? indicator,
      resource: indicator,
      scopes: scopes.map((scope) => ({ scope, description: snapshot.describe(scope) ?? scope })),
    });
  }
  return groups;
}

/** "30 days", "12 hours", "45 minutes": how long a grant lasts, in words. */
export function describeDuration(seconds: number): string {
  const units: Array<[number, string]> = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of units) {
    if (seconds >= size) {
      const count = Math.round(seconds / size);
      return `${count} ${name}${count === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}
