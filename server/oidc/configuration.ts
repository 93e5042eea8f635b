// oidc-provider configuration, one decision per line, each with why the default it overrides would
// break a promise if left alone (docs/security.md lists the defences and their tests).
import crypto from 'node:crypto';
import type { Adapter, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { Config } from '../config/env.ts';
import type { KeyMaterial } from '../config/keys.ts';
import type { Accounts } from '../services/accounts.ts';
import { claimsFor } from '../services/accounts.ts';
import type { ResourceCatalog } from '../services/resources.ts';
import { OIDC_SCOPES } from '../services/resources.ts';
import type { Views } from '../http/views.ts';
import { createResourceIndicatorHooks, SELF_REGISTERED_PREFIX, validateResourceScopesMetadata } from './scope-policy.ts';
import { clientIdMetadataDocumentFeature, providerFetch } from './metadata-documents.ts';
import { createIntrospectionPolicy, createRevocationPolicy } from './token-policies.ts';
import { checkClientMetadata } from './client-metadata-policy.ts';
import { createErrorPage, createLogoutPages } from './pages.ts';
import type { StatusLists } from '../services/status-lists.ts';
import { statusClaimCustomizer } from './status-claim.ts';
import { dpopFeature, pushedAuthorizationRequestsFeature } from './dpop-and-par.ts';
import { extraTokenClaims } from './token-claims.ts';
import { withPasskeyScopes } from './passkey-policy.ts';
import { interactionPolicyFor } from './interaction-policy.ts';
import { ACR_VALUES } from '../services/authentication-strength.ts';
import { richAuthorizationRequestsFeature } from './authorization-details.ts';

export interface ConfigurationDeps {
  config: Readonly<Config>;
  keys: KeyMaterial;
  adapter: (model: string) => Adapter;
  accounts: Accounts;
  catalog: ResourceCatalog;
  views: Views;
  /** Grants this user already gave this client in earlier sessions (newest first). */
  findEarlierGrantId: (accountId: string, clientId: string) => Promise<string | undefined>;
  /** Whether an operator has verified the client (dynamically registered ones start unverified). */
  isVerifiedClient: (clientId: string) => Promise<boolean>;
  /** PASSKEY_AS_SECOND_FACTOR=required-when-registered: whether this account must sign in with its passkey. */
  accountNeedsPasskey?: ((accountId: string) => Promise<boolean>) | undefined;
  /** Where JWT access tokens get their status list entry (status-claim.ts); none: no status claim. */
  statusLists?: Pick<StatusLists, 'assign'> | undefined;
}

type Ctx = KoaContextWithOIDC;

/** Removes everything but OpenID Connect scopes from a metadata object's `scope` (in place). */
function keepOidcScopes(metadata: Record<string, unknown>): void {
  if (typeof metadata.scope !== 'string') return;
  const kept = metadata.scope.split(' ').filter((s) => (OIDC_SCOPES as readonly string[]).includes(s));
  if (kept.length) metadata.scope = kept.join(' ');
  else delete metadata.scope;
}

/** `seconds`, shortened to what remains of the grant the token is issued under. */
function withinGrant(ctx: Ctx | undefined, seconds: number): number {
  const exp = (ctx?.oidc?.entities?.Grant as { exp?: number } | undefined)?.exp;
  if (typeof exp !== 'number') return seconds;
  return Math.max(1, Math.min(seconds, exp - Math.floor(Date.now() / 1000)));
}

// resource_scopes: the client's API allow-list; required_scopes: scopes the user cannot untick;
// max_grant_duration: the longest access a user may give this client (s).
export const EXTRA_CLIENT_METADATA = ['resource_scopes', 'required_scopes', 'max_grant_duration'];

export function buildConfiguration(deps: ConfigurationDeps): Configuration {
  const { config, keys, accounts, catalog, views } = deps;
  const secureCookies = config.issuer.startsWith('https:');
  const resourceIndicators = withPasskeyScopes(createResourceIndicatorHooks(catalog, { honourRegisteredResourceScopes: config.dynamicRegistration === 'token' }), catalog);
  const { logoutSource, postLogoutSuccessSource } = createLogoutPages(views);

  const configuration = {
    adapter: deps.adapter,
    jwks: { keys: keys.signing },

    async findAccount(_ctx: Ctx, sub: string) {
      const user = await accounts.findById(sub);
      // A removed or disabled user ends every refresh (OIDC-PROVIDER-NOTES: findAccount → undefined).
      if (!user || user.disabled) return undefined;
      return {
        accountId: user.id,
        async claims(_use: string, scope: string) {
          return claimsFor(user, new Set(scope.split(' ')));
        },
      };
    },

    claims: {
      // How and when the user signed in (issue 19) is in every ID token: the provider puts a
      // claim in one only when a scope releases it or the request asked for it.
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['name'],
      email: ['email', 'email_verified'],
    },
    scopes: [...OIDC_SCOPES],

    // Authorization code only: no implicit or hybrid flows (RFC 9700 §2.1.2), and oidc-provider
    // has no password grant at all.
    responseTypes: ['code'],
    // RFC 9700 §2.1.1: PKCE for every client, confidential ones included. S256 is the only method.
    pkce: { required: () => true },
    // Exact redirect URI match on every request, even for clients with one registered URI.
    allowOmittingSingleRegisteredRedirectUri: false,

    // client_secret_jwt needs the raw secret as an HMAC key; we keep secrets sealed and off that path.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      // No code in a URL fragment (RFC 9700 §2.1.2, T11): query or form_post only.
      response_modes: ['query', 'form_post'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },

    // Every client with the refresh_token grant gets one; offline_access only decides whether
    // it outlives the login session (expiresWithSession, the library default).
    async issueRefreshToken(_ctx: Ctx, client: { grantTypeAllowed(type: string): boolean }) {
      return client.grantTypeAllowed('refresh_token');
    },
    // RFC 9700 §4.14.2: rotate on every use, for confidential clients too.
    rotateRefreshToken: () => true,

    async loadExistingGrant(ctx: Ctx) {
      const { oidc } = ctx;
      const client = oidc.client;
      if (!client) return undefined;
      // The approval the user just gave on our consent page.
      const given = oidc.result?.consent?.grantId;
      if (given) return oidc.provider.Grant.find(given);
      // What the user approved before is not asked again. (Clients nobody has verified still see
      // the consent page every time, with what they already have shown as granted: the
      // `client_not_verified` check in interactionPolicy below.)
      const accountId = oidc.session?.accountId;
      const grantId = oidc.session?.grantIdFor(client.clientId) ?? (accountId ? await deps.findEarlierGrantId(accountId, client.clientId) : undefined);
      const grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      // Scopes the user declined before are asked again on a new request (T29): declining is an
      // answer to one request, not a standing refusal.
      if (grant) delete (grant as unknown as { rejected?: unknown }).rejected;
      return grant;
    },

    cookies: {
      keys: keys.cookies,
      names: secureCookies
        ? { session: '__Host-latchkey.session', interaction: '__Secure-latchkey.interaction', resume: '__Secure-latchkey.resume' }
        : { session: 'latchkey.session', interaction: 'latchkey.interaction', resume: 'latchkey.resume' },
      long: { httpOnly: true, sameSite: 'lax', secure: secureCookies },
      short: { httpOnly: true, sameSite: 'lax', secure: secureCookies },
    },

    interactions: {
      url: (_ctx: Ctx, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
      policy: interactionPolicyFor(deps),
    },

    features: {
      // Development-only login that accepts anyone: never.
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: createIntrospectionPolicy(catalog) },
      revocation: { enabled: true, allowedPolicy: createRevocationPolicy(catalog) },
      resourceIndicators,
      userinfo: { enabled: true },
      // DYNAMIC_REGISTRATION: `token` (an initial access token is required), `open` (anyone may
      // register: MCP clients do; our own rules apply, see the metadata validator below and
      // throttleRegistration), `off` (no registration endpoint in discovery).
      registration: {
        enabled: config.dynamicRegistration !== 'off',
        initialAccessToken: config.dynamicRegistration === 'token',
        issueRegistrationAccessToken: true,
        idFactory: () => `${SELF_REGISTERED_PREFIX}${crypto.randomBytes(12).toString('base64url')}`,
        // 256 bits, server-generated.
        secretFactory: async () => crypto.randomBytes(32).toString('base64url'),
      },
      registrationManagement: { enabled: config.dynamicRegistration !== 'off', rotateRegistrationAccessToken: true },
      clientIdMetadataDocument: clientIdMetadataDocumentFeature(config),
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      claimsParameter: { enabled: false },
      requestObjects: { enabled: false },
      // RFC 9449 (sender-constrained tokens) and RFC 9126 (pushed authorization requests).
      dPoP: dpopFeature(config, keys),
      pushedAuthorizationRequests: pushedAuthorizationRequestsFeature(config),
      // RFC 9396: per-document access with the types resource servers declare (authorization-details.ts).
      richAuthorizationRequests: richAuthorizationRequestsFeature(catalog),
    },

    extraClientMetadata: {
      properties: EXTRA_CLIENT_METADATA,
      validator(ctx: Ctx | undefined, key: string, value: unknown, metadata: Record<string, unknown>) {
        if (key === 'required_scopes') {
          if (value !== undefined && (typeof value !== 'string' || value.length > 1000)) throw new errors.InvalidClientMetadata('required_scopes must be a string of scopes');
          return;
        }
        if (key === 'max_grant_duration') {
          if (value !== undefined && (!Number.isInteger(value) || (value as number) < 60)) throw new errors.InvalidClientMetadata('max_grant_duration must be a whole number of seconds, at least 60');
          return;
        }
        if (key !== 'resource_scopes') return;
        const problem = validateResourceScopesMetadata(catalog.snapshot, value);
        if (problem) throw new errors.InvalidClientMetadata(problem);
        const route = ctx?.oidc?.route;
        const selfRegistered = route === 'registration' || route === 'client_update';
        checkClientMetadata(metadata, { selfRegistered });
        if (selfRegistered) {
          // A self-registered client's `scope` is not its allow-list for APIs (what bounds it is
          // each API's opt-in and the user's consent): keep only OpenID Connect scopes in it, so
          // registering with an API scope (as MCP clients do) is not refused.
          keepOidcScopes(metadata);
          const builtIn = Object.keys((value as Record<string, unknown> | undefined) ?? {}).find((indicator) => catalog.snapshot.get(indicator)?.builtIn);
          if (builtIn) throw new errors.InvalidClientMetadata(`resource_scopes names ${builtIn}, which only clients made by an operator may use`);
          if (config.dynamicRegistration === 'open') {
            const refused = Object.keys((value as Record<string, unknown> | undefined) ?? {}).find((indicator) => !catalog.snapshot.get(indicator)?.dynamicClients);
            if (refused) throw new errors.InvalidClientMetadata(`resource_scopes names ${refused}, which does not accept self-registered clients`);
          }
        }
        const grantTypes = metadata.grant_types as string[] | undefined;
        // A self-registered client's allow-list is its own claim; without a user's consent in
        // the loop (client_credentials) it would be a key to every API. Operators create
        // service clients with the CLI.
        if (selfRegistered && grantTypes?.includes('client_credentials')) {
          throw new errors.InvalidClientMetadata('client_credentials is not available to dynamically registered clients');
        }
      },
    },

    // RFC 7523 §3 / audience injection (T21): a client assertion is for this issuer and nobody
    // else, as a single string; oidc-provider would also accept endpoint URLs built from the
    // request's host, or arrays naming other servers.
    async assertJwtClientAuthClaimsAndHeader(ctx: Ctx, claims: { aud?: unknown }) {
      if (claims.aud !== ctx.oidc.issuer) {
        throw new errors.InvalidClientAuth('audience (aud) must equal the issuer identifier');
      }
    },

    // How the user signed in, levels weakest first (services/authentication-strength.ts).
    acrValues: [...ACR_VALUES],

    // Claims set by the code that makes a token (token-claims.ts: `act` on exchanged tokens).
    extraTokenClaims,

    // CORS only where a browser-based public client needs it (the library's rule, made explicit).
    clientBasedCORS(ctx: Ctx, origin: string, client: { clientAuthMethod: string; redirectUris: string[] }) {
      if (origin === 'null') return false;
      if (ctx.oidc.route === 'userinfo' || client.clientAuthMethod === 'none') {
        return client.redirectUris.some((uri) => URL.parse(uri)?.origin === origin);
      }
      return false;
    },

    ttl: {
      // No access token outlives its grant (the user's chosen duration).
      AccessToken: (ctx: Ctx, token: { resourceServer?: { accessTokenTTL?: number } }) =>
        withinGrant(ctx, token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken),
      ClientCredentials: (_ctx: Ctx, token: { resourceServer?: { accessTokenTTL?: number } }) =>
        token.resourceServer?.accessTokenTTL ?? config.ttl.clientCredentials,
      AuthorizationCode: config.ttl.authorizationCode,
      IdToken: config.ttl.idToken,
      RefreshToken: (ctx: Ctx) => withinGrant(ctx, config.ttl.refreshToken),
      // Caps every refresh token under the grant; rotation never extends it.
      Grant: config.ttl.grant,
      Session: config.ttl.session,
      Interaction: config.ttl.interaction,
    },

    // JWT access tokens carry their status list entry, so they can be recalled (status-claim.ts).
    ...(deps.statusLists ? { formats: { customizers: { jwt: statusClaimCustomizer(deps.statusLists) } } } : {}),

    renderError: createErrorPage(views),
    fetch: providerFetch(config),

    discovery: {
      service_documentation: `${config.issuer}/`,
    },
  };

  return configuration as unknown as Configuration;
}
