// The issuer's metadata (OpenID Connect Discovery 1.0 / RFC 8414): where its keys and its
// introspection endpoint are. Fetched on first need and kept for the life of the process; a
// failed fetch is not kept, so the next request tries again.
import { askAuthorizationServer, unavailable } from './authorization-server.ts';

export interface IssuerMetadata {
  jwksUri: URL;
  introspectionEndpoint: URL | undefined;
}

function endpoint(document: Record<string, unknown>, name: string): URL | undefined {
  const value = document[name];
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw unavailable(`discovery: ${name} is not an http(s) URL`);
  }
  return url;
}

export function createDiscovery(o: { issuer: string; discoveryUrl: string; timeoutMs: number }): () => Promise<IssuerMetadata> {
  let metadata: Promise<IssuerMetadata> | undefined;

  async function fetchMetadata(): Promise<IssuerMetadata> {
    const document = await askAuthorizationServer(o.discoveryUrl, { method: 'GET' }, o.timeoutMs, 'discovery');
    // OpenID Connect Discovery §4.3 / RFC 8414 §3.3: the document must name the issuer we asked
    // for, or it describes someone else (and their keys would sign tokens we would accept).
    if (document.issuer !== o.issuer) {
      throw unavailable(`discovery names the issuer ${JSON.stringify(document.issuer)}, not ${JSON.stringify(o.issuer)}`);
    }
    const jwksUri = endpoint(document, 'jwks_uri');
    if (!jwksUri) throw unavailable('discovery: the document has no jwks_uri');
    return { jwksUri, introspectionEndpoint: endpoint(document, 'introspection_endpoint') };
  }

  return () => {
    metadata ??= fetchMetadata().catch((error: unknown) => {
      metadata = undefined;
      throw error;
    });
    return metadata;
  };
}
