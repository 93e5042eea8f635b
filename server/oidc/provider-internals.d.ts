// oidc-provider ships no types for its internal modules; these are the ones single-use.ts wraps.
declare module 'oidc-provider/lib/actions/grants/refresh_token.js';
declare module 'oidc-provider/lib/actions/grants/authorization_code.js';
declare module 'oidc-provider/lib/helpers/grants.js';
declare module 'oidc-provider/lib/helpers/fetch_request.js' {
  export function isSpecialUseIP(address: string): boolean;
}
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
