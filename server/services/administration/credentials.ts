// Credentials the server hands out or holds: initial access tokens for RFC 7591 registration,
// and the keys (list, rotate). Signing and cookie keys rotate in the database, where every
// instance reads them within KEYS_POLL_SECONDS; the data key rotates in KEYS_FILE (CLI only).
import { iso, type Actor, type Services } from './context.ts';
import type { Input, InitialAccessToken, KeyList, KeyRotation, NewInitialAccessToken, Output } from './schemas.ts';

const DEFAULT_INITIAL_ACCESS_TOKEN_TTL = 7 * 24 * 3600;

export function credentialOperations({ provider, keyAdmin, record }: Services) {
  return {
    async createInitialAccessToken(input: Input<typeof NewInitialAccessToken>, actor: Actor): Promise<Output<typeof InitialAccessToken>> {
      const ttl = input.ttl ?? DEFAULT_INITIAL_ACCESS_TOKEN_TTL;
      const token = new provider.InitialAccessToken({ expiresIn: ttl } as never);
      const value = await token.save();
      await record(actor, { event: 'initial_access_token.created', details: { ttl } });
      return { initial_access_token: value, expires_at: iso(Date.now() + ttl * 1000) };
    },

    listKeys: async (): Promise<Output<typeof KeyList>> => ({ keys: await keyAdmin.list() }),

    async rotateKeys(
      rotation: Input<typeof KeyRotation> & { data?: boolean },
      actor: Actor,
    ): Promise<Output<typeof KeyList> & { dropped: string[] }> {
      const { keys, dropped } = await keyAdmin.rotate(rotation);
      await record(actor, { event: 'keys.rotated', details: rotation.data ? { data: true } : { signing: rotation.signing, cookies: rotation.cookies } });
      return { keys, dropped };
    },

    /** Drops retired data keys that seal nothing any more (CLI: they live in KEYS_FILE). */
    prune: () => keyAdmin.prune(),
  };
}
