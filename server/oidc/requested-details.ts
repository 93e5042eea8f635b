// The authorization details (RFC 9396) a request names, parsed once per request: the provider
// validates them detail by detail and each validation asks for them all, and the scope policy
// reads their types to learn which APIs the request is for. The scope policy may ask before the
// provider's check_rar has refused malformed JSON, so malformed JSON is "none" here; check_rar
// answers invalid_authorization_details for it.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Detail } from '../services/detail-grants.ts';

type Ctx = KoaContextWithOIDC;

const parsedPerRequest = new WeakMap<Ctx, Detail[] | undefined>();

function parse(raw: string): Detail[] | undefined {
  try {
    const parsed = JSON.parse(raw) as unknown;
    return Array.isArray(parsed) && parsed.length ? (parsed as Detail[]) : undefined;
  } catch {
    return undefined;
  }
}

/** The details the request names, or undefined (none, or not a JSON array). */
export function requestedDetails(ctx: Ctx): Detail[] | undefined {
  if (parsedPerRequest.has(ctx)) return parsedPerRequest.get(ctx);
  const raw = ctx.oidc.params?.authorization_details;
  if (typeof raw !== 'string') return undefined;
  const details = parse(raw);
  parsedPerRequest.set(ctx, details);
  return details;
}
