// oidc-provider on its own, without our configuration or storage (its bundled in-memory
// adapter), served over real HTTP on loopback: for pinning what the library itself does at the
// places server/oidc/internals/ reaches into. Not a test file.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type ClientMetadata, type Configuration } from 'oidc-provider';

export interface BareProvider {
  issuer: string;
  provider: Provider;
  url(path: string): string;
  close(): Promise<void>;
}

export const CLIENT_SECRET = 'a-client-secret-long-enough-for-the-library-0123456789';
export const REDIRECT_URI = 'https://rp.example/cb';

/** Two confidential clients, one per secret-based authentication method. */
export const SECRET_CLIENTS: ClientMetadata[] = [
  { client_id: 'basic-client', client_secret: CLIENT_SECRET, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'client_secret_basic' },
  { client_id: 'post-client', client_secret: CLIENT_SECRET, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'client_secret_post' },
];

export async function startBareProvider(
  configuration: Configuration = {},
  ProviderClass: typeof Provider = Provider,
  prepare: (provider: Provider) => void = () => undefined,
): Promise<BareProvider> {
  // Listen first: the issuer names the port, and the provider needs the issuer at construction.
  let handler: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new ProviderClass(issuer, {
    clients: SECRET_CLIENTS,
    ...configuration,
    features: { devInteractions: { enabled: false }, ...configuration.features },
  });
  prepare(provider);
  handler = provider.callback();
  return {
    issuer,
    provider,
    url: (path) => `${issuer}${path}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields),
  });
}
