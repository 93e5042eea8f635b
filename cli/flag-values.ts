// Reading the CLI's flag values, and naming a flag in a refusal: what every command shares.
import type { z } from 'zod';
import { UsageError } from './output.ts';

export type Values = Record<string, string | boolean | string[] | undefined>;

/** Admin API field names as the CLI's flags, for messages. */
const FLAGS: Record<string, string> = {
  client_name: '--name',
  redirect_uris: '--redirect-uri',
  grant_types: '--grant-types',
  resources: '--resource',
  logo_uri: '--logo-uri',
  client_uri: '--client-uri',
  policy_uri: '--policy-uri',
  tos_uri: '--tos-uri',
  email_verified: '--email-verified',
  token_format: '--format',
  access_token_ttl: '--ttl',
  max_grant_duration: '--max-grant-duration',
  dynamic_clients: '--dynamic-clients',
  default_scope: '--default-scope',
  may_exchange_for: '--may-exchange-for',
  scopes: '--scope',
  dpop_bound_access_tokens: '--dpop-bound',
  require_pushed_authorization_requests: '--require-par',
  authorization_detail_types: '--authorization-detail-type',
  require_passkey_for: '--require-passkey-for',
};

export function flagFor(field: string): string {
  const name = field.split('.')[0] as string;
  return FLAGS[name] ?? `--${name.replace(/_/g, '-')}`;
}

/** The flags' input, checked by the admin API's schema; a refusal names the flags at fault. */
export function checked<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => (issue.path.length ? `${flagFor(issue.path.map(String).join('.'))}: ${issue.message}` : issue.message));
  throw new UsageError([...new Set(problems)].join('; '));
}

export function required(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function optional(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function list(values: Values, name: string): string[] {
  const value = values[name];
  if (Array.isArray(value)) return value;
  return typeof value === 'string' ? [value] : [];
}

export function seconds(values: Values, name: string): number | undefined {
  const raw = optional(values, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a number of seconds`);
  return Number(raw);
}

export function trueOrFalse(raw: string | undefined, name: string): boolean | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new UsageError(`--${name} takes true or false, got ${JSON.stringify(raw)}`);
}
