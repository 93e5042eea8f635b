// Authentication strength per route (RFC 9470): a route may need the user behind a token to
// have signed in at least so strongly. Latchkey's levels, weakest first, are
// `urn:latchkey:acr:password` and `urn:latchkey:acr:passkey`; a token carries its sign-in's as
// `acr` (the JWT claim, or the introspection field). A level this order does not know is met only
// by itself.
const LATCHKEY_LEVELS = ['urn:latchkey:acr:password', 'urn:latchkey:acr:passkey'] as const;

/** What a route asks for: a minimum level (`'urn:latchkey:acr:passkey'`), or the accepted values. */
export type AcrRequirement = string | readonly string[];

/** The acr values that satisfy `requirement`, strongest last (the challenge lists them). */
export function acceptedAcrValues(requirement: AcrRequirement): readonly string[] {
  if (typeof requirement !== 'string') return requirement;
  const rank = (LATCHKEY_LEVELS as readonly string[]).indexOf(requirement);
  return rank < 0 ? [requirement] : LATCHKEY_LEVELS.slice(rank);
}

export function checkAcrRequirement(requirement: unknown): AcrRequirement {
  const values = typeof requirement === 'string' ? [requirement] : requirement;
  if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'string' && v.length > 0 && !/[\s"\\]/.test(v))) {
    throw new TypeError('acr must be an acr value or a non-empty list of them (no spaces or quotes)');
  }
  return requirement as AcrRequirement;
}
