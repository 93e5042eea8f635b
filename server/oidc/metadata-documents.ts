// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, the MCP spec's
// preferred way for a client to identify itself): a client_id that is an https URL is fetched
// and its JSON document is the client's metadata. oidc-provider implements the draft
// (features.clientIdMetadataDocument, experimental, acknowledged at draft-02): https only, no
// credentials in the URL, no shared-secret authentication, a 2.5 s timeout, a response size
// limit, no redirects, a per-process cache honouring Cache-Control (30 s to 1 day), and an
// outgoing connection that refuses private, loopback and other special-use addresses (SSRF).
// Such clients never reach the client table: they are unverified, and limited to the APIs that
// opted in (scope-policy.ts).
import type { Config } from '../config/env.ts';
import { isLoopbackHost } from '../config/env.ts';

export function clientIdMetadataDocumentFeature(config: Readonly<Config>) {
  return { enabled: config.clientIdMetadataDocuments, ack: 'draft-02' };
}

type Fetch = (url: string | URL, options: RequestInit & { dispatcher?: unknown }) => Promise<Response>;

/**
 * Every fetch the provider makes (metadata documents, jwks_uri, sector_identifier_uri) goes
 * through its SSRF-guarded connection. CIMD_ALLOW_LOOPBACK (development and tests only, refused
 * in production by config/env.ts) lifts the guard for loopback hosts alone, so a test can serve
 * a metadata document from https://127.0.0.1 (https is still required: the draft and the MCP
 * SDK both insist; trust a local certificate with NODE_EXTRA_CA_CERTS).
 */
export function providerFetch(config: Readonly<Config>): Fetch {
  return async (url, options) => {
    if (config.cimdAllowLoopback && isLoopbackHost(new URL(url).hostname)) {
      const { dispatcher: _guard, ...unguarded } = options;
      return globalThis.fetch(url, unguarded);
    }
    return globalThis.fetch(url, options as RequestInit);
  };
}
