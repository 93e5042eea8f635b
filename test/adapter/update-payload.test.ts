// A grant edit from the account page must not lose a write made while it runs (a consent adding
// scopes, another edit): updatePayload rewrites a row only if it still holds what was read (a
// compare-and-swap on the sealed value) and otherwise reads again. The race is made certain here
// by writing the row from inside the edit, between its read and its write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/databases.ts';
import { PayloadAdapter } from '../../adapters/knex-adapter.ts';
import { updatePayload } from '../../adapters/payload-queries.ts';
import { adapterErrors } from '../../server/oidc/provider.ts';
import { withoutScope } from '../../server/services/grant-scopes.ts';
import { openStore, randomId, type TestStore } from './context.ts';

describe.each(STORES)('updatePayload keeps concurrent writes (%s)', (kind) => {
  let store: TestStore;
  let grants: PayloadAdapter;
  beforeAll(async () => {
    store = await openStore(kind);
    grants = new PayloadAdapter(store.db, 'Grant', store.sealer, { errors: adapterErrors });
  });
  afterAll(async () => store?.close());

  it("an edit racing a consent keeps both: the consent's new API and the edit's removal", async () => {
    const id = randomId();
    const base = { jti: id, kind: 'Grant', accountId: 'a', clientId: 'c', openid: { scope: 'openid' }, resources: { 'https://api.test': 'read write' } };
    await grants.upsert(id, base, 3600);

    let attempts = 0;
    const updated = await updatePayload(store.db, store.sealer, 'Grant', id, async (payload) => {
      attempts += 1;
      // A consent lands after the edit read the grant and before it writes.
      if (attempts === 1) await grants.upsert(id, { ...payload, resources: { ...(payload.resources as object), 'https://other.test': 'other' } }, 3600);
      return withoutScope(payload as typeof base, 'write').grant;
    });
    expect(attempts).toBe(2);
    const stored = await grants.find(id);
    expect(stored?.resources).toEqual({ 'https://api.test': 'read', 'https://other.test': 'other' });
    expect(updated?.resources).toEqual(stored?.resources);
  });

  it('gives up after repeated conflicts rather than overwrite', async () => {
    const id = randomId();
    await grants.upsert(id, { jti: id, kind: 'Grant', n: 0 }, 3600);
    let n = 0;
    const racing = updatePayload(
      store.db,
      store.sealer,
      'Grant',
      id,
      async (payload) => {
        n += 1;
        await grants.upsert(id, { ...payload, n }, 3600);
        return { ...payload, mine: true };
      },
      { attempts: 3 },
    );
    await expect(racing).rejects.toThrow(/kept changing/);
    expect((await grants.find(id))?.mine).toBeUndefined();
    expect((await grants.find(id))?.n).toBe(3);
  });
});
