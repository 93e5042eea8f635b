// The provider options of the bare oidc-provider baseline (bench/bare-provider.ts): the options
// of server/oidc/configuration.ts that decide how much work W1–W3 do, with none of our code
// behind them. What it leaves out is what we add on top (client and resource catalogues in the
// database, scope policy, grant-bound TTLs, throttling, audit), which is the cost the ratio
// against this baseline shows. Imports nothing from server/: the bundle must hold no Latchkey code.
import crypto from 'node:crypto';
import type { ClientMetadata, Configuration } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const DAY = 24 * 60 * 60;

/** The demo seed's one API (seeds/01-demo.ts), with our defaults: opaque tokens, 600 s. */
export const CONTACTS_API = {
  audience: 'https://contacts-api.example',
  scope: 'contacts:read contacts:write',
  accessTokenTTL: 600,
  accessTokenFormat: 'opaque',
} as const;

/** The client ids whose secrets the parent passes in (BARE_CLIENT_SECRETS). */
export const BARE_CLIENT_IDS = ['contacts-reader', 'contacts-sync', 'contacts-api'] as const;
export type BareSecrets = Record<(typeof BARE_CLIENT_IDS)[number], string>;

/**
 * The demo seed's clients as our CLI registers them (server/services/clients.ts,
 * server/services/resources.ts): same grant types, auth method and OIDC `scope`; static, as
 * oidc-provider keeps configured clients in memory.
 */
function clients(secrets: BareSecrets): ClientMetadata[] {
  return [
    {
      client_id: 'contacts-reader',
      client_secret: secrets['contacts-reader'],
      application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://localhost:8080/callback', 'http://127.0.0.1:8080/callback'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid profile email offline_access',
    },
    {
      client_id: 'contacts-sync',
      client_secret: secrets['contacts-sync'],
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    // The contacts API's own credentials: introspection and revocation only.
    {
      client_id: 'contacts-api',
      client_secret: secrets['contacts-api'],
      grant_types: [],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ];
}

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'bare', alg: 'RS256', use: 'sig' };
}

export function bareConfiguration(secrets: BareSecrets): Configuration {
  return {
    // oidc-provider's memory adapter on the LRU the caller sized (sizeMemoryStorage), as our
    // memory mode builds it. A factory, not the class: given the class, or no adapter at all,
    // oidc-provider gives it a store of its own of 1,000 entries and ignores setStorage.
    adapter: (model: string) => new MemoryAdapter(model),
    clients: clients(secrets),
    jwks: { keys: [signingKey()] } as Configuration['jwks'],
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: async () => ({ sub }) };
    },
    claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    allowOmittingSingleRegisteredRedirectUri: false,
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    async issueRefreshToken(_ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    rotateRefreshToken: () => true,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // The API's client learns about tokens; a client about its own (our rule, minus the
      // audience check against the catalogue).
      introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => client.clientId === 'contacts-api' || token.clientId === client.clientId },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => client.clientId === 'contacts-api' || token.clientId === client.clientId },
      resourceIndicators: {
        enabled: true,
        // A request without `resource` is bound to the API its scopes belong to (ours looks the
        // owner up in the catalogue; here there is one API).
        defaultResource: async (_ctx, _client, oneOf) => oneOf?.[0] ?? CONTACTS_API.audience,
        getResourceServerInfo: async () => ({ ...CONTACTS_API }),
        useGrantedResource: async () => true,
      },
      userinfo: { enabled: true },
      claimsParameter: { enabled: false },
      requestObjects: { enabled: false },
    },
    // Our defaults (server/config/env.ts), set explicitly so no default warns or differs.
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 14 * DAY,
      Grant: 365 * DAY,
      Session: DAY,
      Interaction: 1800,
    },
  };
}
