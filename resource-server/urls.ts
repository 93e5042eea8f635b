// URL rules: where the protected resource metadata lives (RFC 9728 §3.1) and when two HTTP URIs
// are the same for a DPoP proof's `htu` (RFC 9449 §4.3).

export const METADATA_PATH = '/.well-known/oauth-protected-resource';

/** The resource identifier's path and query, without the lone `/` of an identifier that has none. */
export function resourcePathOf(resource: URL): string {
  // RFC 9728 §3.1: a terminating slash after the host is removed before the insertion.
  const path = resource.pathname === '/' ? '' : resource.pathname;
  return `${path}${resource.search}`;
}

/**
 * RFC 9728 §3.1: the well-known path goes between the host and the resource's path, so
 * `http://localhost:4100/mcp` has its metadata at
 * `http://localhost:4100/.well-known/oauth-protected-resource/mcp`. `origin` replaces the
 * resource's own origin for APIs served somewhere other than their identifier.
 */
export function metadataUrlFor(resource: URL, origin?: string): string {
  return `${origin ?? resource.origin}${METADATA_PATH}${resourcePathOf(resource)}`;
}

// RFC 3986 §2.3: unreserved characters mean the same percent-encoded or not.
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

function normalisePath(path: string): string {
  // RFC 3986 §6.2.2.1–2: percent-encodings compare in upper case, unreserved ones decoded.
  return path.replace(/%[0-9A-Fa-f]{2}/g, (escape) => {
    const character = String.fromCharCode(Number.parseInt(escape.slice(1), 16));
    return UNRESERVED.test(character) ? character : escape.toUpperCase();
  });
}

/**
 * The URI a DPoP proof must name, normalised: scheme and host in lower case, default port
 * dropped, dot segments resolved (WHATWG URL parsing, RFC 3986 §6.2.3), percent-encodings
 * normalised, query and fragment ignored (RFC 9449 §4.3 step 9). Undefined when it is not an
 * absolute http(s) URL.
 */
export function normaliseHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return `${url.protocol}//${url.host}${normalisePath(url.pathname)}`;
}

/** The absolute URL of a request from its origin and its request target (`/path?query`). */
export function requestUrl(origin: string, target: string): string {
  // A request target is origin-form (RFC 9112 §3.2.1); anything else names no path of ours.
  return `${origin}${target.startsWith('/') ? target : `/${target}`}`;
}
