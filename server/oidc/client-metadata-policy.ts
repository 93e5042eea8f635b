// Rules for client metadata beyond oidc-provider's own schema checks.
//
// - Redirect URIs (every client): https; or http on a loopback host (RFC 8252 §7.3, local
//   development); or, for native apps, a private-use scheme in reverse-domain form
//   (RFC 8252 §7.1). No `code`/`state`/`iss` parameters baked into them. (T3)
// - Self-registered clients (RFC 7591) assert their own metadata: every URI the server could
//   fetch or show (jwks_uri, sector_identifier_uri, logo_uri, ...) must be https on a public
//   host, so registration cannot point the server at internal addresses (SSRF, T42c).
import { errors } from 'oidc-provider';
import { isSpecialUseIP } from './internals/special-use-ip.ts';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const RESPONSE_PARAMETERS = ['code', 'state', 'iss', 'error'];
const FETCHED_OR_SHOWN = [
  'jwks_uri',
  'sector_identifier_uri',
  'logo_uri',
  'client_uri',
  'policy_uri',
  'tos_uri',
  'initiate_login_uri',
  'backchannel_logout_uri',
  'request_uris',
];

function invalid(message: string): never {
  throw new errors.InvalidClientMetadata(message);
}

function checkRedirectUri(uri: string, native: boolean, field: string): void {
  const url = URL.parse(uri);
  if (!url) invalid(`${field} must be absolute URIs`);
  if (url.protocol === 'https:') {
    // fine
  } else if (url.protocol === 'http:') {
    if (!LOOPBACK_HOSTS.has(url.hostname)) invalid(`${field} may use http only on a loopback address (127.0.0.1, [::1] or localhost)`);
  } else if (!native || !/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/i.test(url.protocol)) {
    invalid(`${field} must use https, http on loopback, or (native apps) a private-use scheme such as com.example.app:`);
  }
  const baked = RESPONSE_PARAMETERS.find((name) => url.searchParams.has(name));
  if (baked) invalid(`${field} must not carry a ${baked} parameter`);
}

/**
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its IPv4 address. The URL parser writes it in
 * hex ([::ffff:7f00:1] for 127.0.0.1), a form the special-use check does not know; connecting to
 * it reaches the IPv4 address, so it is judged as that.
 */
export function unmapIPv4(host: string): string {
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(host);
  if (hex) {
    const high = Number.parseInt(hex[1] as string, 16);
    const low = Number.parseInt(hex[2] as string, 16);
    return [high >> 8, high & 255, low >> 8, low & 255].join('.');
  }
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return dotted ? (dotted[1] as string) : host;
}

function isPublicHost(hostname: string): boolean {
  const host = unmapIPv4(hostname.replace(/^\[|\]$/g, ''));
  if (host === 'localhost' || host.endsWith('.localhost') || !host.includes('.') && !host.includes(':')) return false;
  const literal = /^[\d.]+$/.test(host) || host.includes(':');
  return !(literal && isSpecialUseIP(host));
}

const RESPONSE_MODES = new Set(['query', 'form_post']);

export function checkClientMetadata(metadata: Record<string, unknown>, { selfRegistered }: { selfRegistered: boolean }): void {
  const native = metadata.application_type === 'native';
  if (Array.isArray(metadata.response_modes) && metadata.response_modes.some((mode) => !RESPONSE_MODES.has(String(mode)))) {
    invalid('response_modes may only be query or form_post: no authorization code in a URL fragment');
  }
  for (const field of ['redirect_uris', 'post_logout_redirect_uris']) {
    const value = metadata[field];
    if (Array.isArray(value)) for (const uri of value) if (typeof uri === 'string') checkRedirectUri(uri, native, field);
  }
  if (!selfRegistered) return;
  for (const field of FETCHED_OR_SHOWN) {
    const values = ([] as unknown[]).concat(metadata[field] ?? []);
    for (const value of values) {
      if (typeof value !== 'string') continue;
      const url = URL.parse(value);
      if (!url || url.protocol !== 'https:' || !isPublicHost(url.hostname)) {
        invalid(`${field} must be an https URL on a public host`);
      }
    }
  }
}
