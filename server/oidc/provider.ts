// Builds the oidc-provider instance from its dependencies.
import Provider, { errors } from 'oidc-provider';
import type { AdapterErrors } from '../../adapters/knex-adapter.ts';
import { buildConfiguration, type ConfigurationDeps } from './configuration.ts';
import type { Interstitial, ResponseModeHandler } from './interstitial.ts';
import { providerWrappingResponseModes } from './internals/response-modes.ts';
import { reuseClientInstances } from './internals/client-instances.ts';
import { serveLiveDetailTypes, type DetailValidate } from './internals/detail-types.ts';
import { createDetailValidator } from './authorization-details.ts';

const SINGLE_USE_LABEL: Record<string, string> = {
  AuthorizationCode: 'authorization code',
  RefreshToken: 'refresh token',
  DeviceCode: 'device code',
  BackchannelAuthenticationRequest: 'backchannel authentication request',
  PreAuthorizedCode: 'pre-authorized code',
};

/** Marks the error of a consume that lost a race, so the grant wrappers can recognise it. */
export const CONSUME_CONFLICT = Symbol('consume conflict');

export function isConsumeConflict(error: unknown): boolean {
  return typeof error === 'object' && error !== null && CONSUME_CONFLICT in error;
}

/** Marks the error of an insert-only write whose id was already taken. */
export const ALREADY_TAKEN = Symbol('already taken');

export function isAlreadyTaken(error: unknown): boolean {
  return typeof error === 'object' && error !== null && ALREADY_TAKEN in error;
}

/** Storage refusals as protocol errors: a lost race is the client's `invalid_grant`, never a 500. */
export const adapterErrors: AdapterErrors = {
  alreadyConsumed(model) {
    const label = SINGLE_USE_LABEL[model];
    const error = label ? new errors.InvalidGrant(`${label} already used`) : new errors.InvalidRequest('request already used');
    return Object.assign(error, { [CONSUME_CONFLICT]: true });
  },
  replayed() {
    return Object.assign(new errors.InvalidRequest('a single-use value was presented more than once'), { [ALREADY_TAKEN]: true });
  },
  grantRevoked() {
    return new errors.InvalidGrant('grant revoked');
  },
};

export function createProvider(deps: ConfigurationDeps & { interstitial: Interstitial }): Provider {
  // The unverified-client warning (interstitial.ts) goes in front of every response mode as the
  // provider registers it, so the answer is decided once, before it is written, whatever the
  // mode (how, and what that relies on: internals/response-modes.ts).
  const ProviderClass = providerWrappingResponseModes(
    (name, handler) => deps.interstitial.guard(name, handler as ResponseModeHandler) as typeof handler,
  );
  const provider = new ProviderClass(deps.config.issuer, buildConfiguration(deps));
  // Requests reach the provider pinned to the issuer (server/http/pin-to-issuer.ts).
  provider.proxy = true;
  // Clients come from our cache: one instance per cached metadata object, not a hash per request.
  reuseClientInstances(provider);
  // Detail types are declared per resource server while the server runs (RFC 9396).
  const validate = createDetailValidator(deps.catalog, { honourRegisteredResourceScopes: deps.config.dynamicRegistration === 'token' });
  serveLiveDetailTypes(provider, () => deps.catalog.snapshot.all.flatMap((r) => (r.authorizationDetailTypes ?? []).map((t) => t.type)), validate as unknown as DetailValidate);
  return provider;
}
