// Per-scope consent and time-limited grants, independent of HTTP.
//
// - Every requested scope is offered as a choice, except the required ones (`openid`, and the
//   client's `required_scopes`). The grant holds exactly what the user ticked; what they left
//   unticked is recorded as declined for this request only, so a later request asks again (T29).
// - How long the app keeps access is the user's choice among the configured durations, capped
//   by the client's and each requested resource's `max_grant_duration` and by GRANT_TTL.
import type { ResourceSnapshot } from './resources.ts';

export interface DurationChoice {
  /** The configured value: seconds, or 0 for "until revoked". */
  value: number;
  /** What it means for this grant, after caps (s). */
  seconds: number;
  label: string;
}

function plural(count: number, unit: string) {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

export function durationLabel(seconds: number): string {
  if (seconds % 86_400 === 0) return plural(seconds / 86_400, 'day');
  if (seconds % 3_600 === 0) return plural(seconds / 3_600, 'hour');
  if (seconds % 60 === 0) return plural(seconds / 60, 'minute');
  return plural(seconds, 'second');
}

export interface DurationPolicy {
  durations: number[];
  defaultDuration: number;
  grantTtl: number;
}

/** The durations to offer, and the one ticked by default. */
export function durationChoices(
  policy: DurationPolicy,
  caps: Array<number | null | undefined>,
): { choices: DurationChoice[]; selected: number } {
  const cap = Math.min(policy.grantTtl, ...caps.filter((c): c is number => typeof c === 'number' && c > 0));
  const choices: DurationChoice[] = [];
  for (const value of policy.durations) {
    if (value === 0) {
      choices.push({ value, seconds: cap, label: cap === policy.grantTtl ? 'Until you revoke it' : `Until you revoke it (at most ${durationLabel(cap)})` });
    } else if (value <= cap) {
      choices.push({ value, seconds: value, label: durationLabel(value) });
    }
  }
  if (choices.length === 0) choices.push({ value: cap, seconds: cap, label: durationLabel(cap) });
  const selected = choices.some((c) => c.value === policy.defaultDuration) ? policy.defaultDuration : (choices[choices.length - 1] as DurationChoice).value;
  return { choices, selected };
}

export interface RequestedScopes {
  /** OpenID Connect scopes asked for and not granted yet. */
  oidc: string[];
  /** Per resource indicator, the scopes asked for and not granted yet. */
  resources: Record<string, string[]>;
}

export interface ConsentDecision {
  granted: RequestedScopes;
  declined: RequestedScopes;
  /** True when the user ticked nothing they could untick: that is a Deny. */
  deniedEverything: boolean;
}

/** Splits what was asked into what the user granted and declined; required scopes are always granted. */
export function decide(requested: RequestedScopes, ticked: Set<string>, required: Set<string>): ConsentDecision {
  const granted: RequestedScopes = { oidc: [], resources: {} };
  const declined: RequestedScopes = { oidc: [], resources: {} };
  let optional = 0;
  let optionalTicked = 0;
  for (const scope of requested.oidc) {
    const isRequired = required.has(scope);
    if (!isRequired) optional += 1;
    if (isRequired || ticked.has(scope)) {
      granted.oidc.push(scope);
      if (!isRequired) optionalTicked += 1;
    } else declined.oidc.push(scope);
  }
  for (const [indicator, scopes] of Object.entries(requested.resources)) {
    for (const scope of scopes) {
      const isRequired = required.has(scope);
      if (!isRequired) optional += 1;
      const bucket = isRequired || ticked.has(scope) ? granted : declined;
      if (!isRequired && ticked.has(scope)) optionalTicked += 1;
      (bucket.resources[indicator] ??= []).push(scope);
    }
  }
  return { granted, declined, deniedEverything: optional > 0 && optionalTicked === 0 };
}

/** The scopes a client says it cannot work without (`required_scopes` metadata), plus `openid`. */
export function requiredScopes(client: { [key: string]: unknown }): Set<string> {
  const raw = client.required_scopes ?? client.requiredScopes;
  return new Set(['openid', ...(typeof raw === 'string' ? raw.split(' ').filter(Boolean) : [])]);
}

/** Caps that apply to a request: the client's own and every requested resource's. */
export function durationCaps(client: { [key: string]: unknown }, resourceIds: string[], snapshot: ResourceSnapshot): Array<number | null> {
  const clientCap = client.max_grant_duration ?? client.maxGrantDuration;
  return [typeof clientCap === 'number' ? clientCap : null, ...resourceIds.map((id) => snapshot.get(id)?.maxGrantDuration ?? null)];
}
