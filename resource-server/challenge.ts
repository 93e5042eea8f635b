// The WWW-Authenticate challenge (RFC 9110 §11.6.1) for the Bearer (RFC 6750 §3) and DPoP
// (RFC 9449 §7.1) schemes, with the protected resource metadata URL (RFC 9728 §5.1).

export interface ChallengeParameters {
  scheme: 'Bearer' | 'DPoP';
  error?: string | undefined;
  description?: string | undefined;
  /** Every scope the route needs, space-separated (RFC 6750 §3). */
  scope?: string | undefined;
  /** The acr values that would do, for insufficient_user_authentication (RFC 9470 §3). */
  acrValues?: readonly string[] | undefined;
  /** DPoP only: the proof algorithms accepted (RFC 9449 §7.1). */
  algs?: readonly string[] | undefined;
  resourceMetadata: string;
}

// RFC 6750 §3: error_description is restricted to %x20-21 / %x23-5B / %x5D-7E (no quote, no
// backslash, ASCII only); anything else is replaced rather than escaped.
function descriptionText(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, ' ');
}

// RFC 9110 §5.6.4 quoted-string; the URL and scopes need no escapes, but a configured URL
// could contain a quote in theory.
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** e.g. `Bearer error="invalid_token", error_description="...", resource_metadata="..."`. */
export function challenge(p: ChallengeParameters): string {
  const parameters: [string, string][] = [];
  if (p.error) parameters.push(['error', p.error]);
  if (p.description) parameters.push(['error_description', descriptionText(p.description)]);
  if (p.scope) parameters.push(['scope', p.scope]);
  if (p.acrValues?.length) parameters.push(['acr_values', p.acrValues.join(' ')]);
  if (p.algs) parameters.push(['algs', p.algs.join(' ')]);
  parameters.push(['resource_metadata', p.resourceMetadata]);
  return `${p.scheme} ${parameters.map(([name, value]) => `${name}=${quoted(value)}`).join(', ')}`;
}
