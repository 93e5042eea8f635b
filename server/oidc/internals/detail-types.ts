// Authorization-detail types (RFC 9396) that change while the server runs. oidc-provider takes
// `features.richAuthorizationRequests.types` as a fixed object at construction (it copies it
// while merging the configuration), and its request check asks `Object.hasOwn(types, type)`
// before calling the type's `validate`. Our types are declared per resource server in the
// database and change through the CLI and the admin API on a running cluster, so the provider's
// copy is replaced with a live view: every type name "exists" and shares one `validate`, which
// refuses a type no resource server declares with `invalid_authorization_details` (what the
// provider itself would answer); discovery's `authorization_details_types_supported` lists the
// declared ones.
//
// Which types a client may use is our rule too (the types of the resource servers on its
// allow-list, `resource_scopes`, checked in that `validate`), not the client metadata
// `authorization_details_types`: that list defaults to [] (nothing allowed) and is fixed when the
// client instance is built. The Client class gets an accessor that drops it, so check_rar's
// per-client check (`client.authorizationDetailsTypes?.includes(type) === false`) never refuses.
//
// Relies on (oidc-provider 9.13.3, undocumented; pinned by test/oidc-internals/detail-types.test.ts):
// lib/helpers/weak_cache.js's default export returns the provider's internal record, whose
// `features` is the merged feature configuration read by lib/shared/check_rar.js (hasOwn, then
// `types[type].validate(ctx, detail, client)`) and lib/actions/discovery.js (Object.keys);
// lib/models/client.js sets metadata on the instance with Object.assign (so a prototype setter
// sees `authorizationDetailsTypes`).
//
// Why not the public API: there is no way to add a type after construction, and rebuilding the
// provider on every declaration would drop its in-process state.
import type Provider from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';

export type DetailValidate = (ctx: unknown, detail: Record<string, unknown>, client: unknown) => Promise<void> | void;

export function serveLiveDetailTypes(provider: Provider, declared: () => string[], validate: DetailValidate): void {
  const features = instance(provider)?.features as { richAuthorizationRequests?: { enabled?: boolean; types?: unknown } } | undefined;
  const rar = features?.richAuthorizationRequests;
  if (!rar?.enabled || !rar.types) throw new Error('oidc-provider internals changed: richAuthorizationRequests.types not found');
  const entry = Object.freeze({ validate });
  rar.types = new Proxy({} as Record<string, unknown>, {
    getOwnPropertyDescriptor: (_target, key) => (typeof key === 'string' ? { value: entry, writable: false, enumerable: true, configurable: true } : undefined),
    has: (_target, key) => typeof key === 'string',
    get: (_target, key) => (typeof key === 'string' ? entry : undefined),
    ownKeys: () => declared(),
  });
  Object.defineProperty(provider.Client.prototype, 'authorizationDetailsTypes', {
    configurable: true,
    get: () => undefined,
    set: () => undefined,
  });
}
