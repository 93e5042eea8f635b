// oidc-provider ships no types for its internal modules. These declare the shapes we rely on;
// each one is pinned at runtime by a test in test/oidc-internals/ (types alone would not notice
// an upgrade that changed them).
declare module 'oidc-provider/lib/actions/grants/refresh_token.js' {
  import type Provider from 'oidc-provider';
  import type { KoaContextWithOIDC } from 'oidc-provider';
  export const handler: (provider: Provider, helpers: Record<string, (...args: unknown[]) => unknown>, ctx: KoaContextWithOIDC) => Promise<void>;
  export const parameters: Set<string>;
  export const grantType: string;
}
declare module 'oidc-provider/lib/actions/grants/authorization_code.js' {
  import type Provider from 'oidc-provider';
  import type { KoaContextWithOIDC } from 'oidc-provider';
  export const handler: (provider: Provider, helpers: Record<string, (...args: unknown[]) => unknown>, ctx: KoaContextWithOIDC) => Promise<void>;
  export const parameters: Set<string>;
  export const grantType: string;
}
declare module 'oidc-provider/lib/helpers/grants.js' {
  import type Provider from 'oidc-provider';
  import type { KoaContextWithOIDC } from 'oidc-provider';
  export function validateGrant(provider: Provider, ctx: KoaContextWithOIDC, grantId: string): Promise<unknown>;
  export function consumeGrantSource(provider: Provider, ctx: KoaContextWithOIDC, source: unknown, label: string): Promise<void>;
}
declare module 'oidc-provider/lib/helpers/fetch_request.js' {
  export function isSpecialUseIP(address: string): boolean;
}
// Used by bench/ only (a baseline without our storage); kept here so every deep import is
// declared in one place.
declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  import type { Adapter } from 'oidc-provider';
  export default class MemoryAdapter implements Adapter {
    constructor(model: string);
    upsert(id: string, payload: object, expiresIn?: number): Promise<void>;
    find(id: string): Promise<never>;
    findByUid(uid: string): Promise<never>;
    findByUserCode(code: string): Promise<never>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }
  export function setStorage(store: unknown): void;
}
declare module 'oidc-provider/lib/helpers/lru.js' {
  export default class LRU {
    constructor(options: { maxSize: number });
  }
}
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  /** The provider's internal record (its merged configuration lives under `configuration` and `features`). */
  export default function instance(provider: object): { features?: Record<string, unknown>; configuration?: Record<string, unknown> } | undefined;
}
