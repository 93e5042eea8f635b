// Reading a token reads its grant and session in the same statement, for that request only:
// the request's next lookup of that grant or session takes the row (no second statement), a
// later request reads afresh (a revocation in between is seen), and a write in the request
// sends its next lookups back to the database. Lookups made together share one statement.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAdapterFactory, PayloadAdapter } from '../../adapters/knex-adapter.ts';
import { withRequestScope } from '../../adapters/request-scope.ts';
import { adapterErrors } from '../../server/oidc/provider.ts';
import { createAccounts } from '../../server/services/accounts.ts';
import { STORES } from '../helpers/databases.ts';
import { T0, openStore, randomId, type TestStore } from './context.ts';

describe.each(STORES)('read-ahead of grant and session (%s)', (kind) => {
  let store: TestStore;
  let adapter: (model: string) => PayloadAdapter;
  let statements = 0;

  beforeAll(async () => {
    store = await openStore(kind);
    store.db.on('query', () => (statements += 1));
    const factory = createAdapterFactory(store.db, store.sealer, { adapter: () => undefined as never }, { errors: adapterErrors, now: store.clock.now });
    adapter = (model) => factory(model) as PayloadAdapter;
  });
  afterAll(async () => store?.close());
  beforeEach(async () => {
    store.clock.set(T0);
    await store.db.raw('DELETE FROM oidc_payloads');
    await store.db('users').delete();
  });

  async function family() {
    const grantId = randomId();
    const sessionUid = randomId();
    const token = randomId();
    await adapter('Grant').upsert(grantId, { jti: grantId, accountId: 'alice', clientId: 'app', kind: 'Grant' }, 3600);
    await adapter('Session').upsert(randomId(), { uid: sessionUid, accountId: 'alice', kind: 'Session' } as never, 3600);
    await adapter('AccessToken').upsert(token, { jti: token, grantId, sessionUid, accountId: 'alice', clientId: 'app', kind: 'AccessToken' }, 600);
    return { grantId, sessionUid, token };
  }

  it('serves the grant and session of a token just read without another statement', async () => {
    const { grantId, sessionUid, token } = await family();
    await withRequestScope(async () => {
      const before = statements;
      expect((await adapter('AccessToken').find(token))?.jti).toBe(token);
      expect((await adapter('Grant').find(grantId))?.jti).toBe(grantId);
      expect((await adapter('Session').findByUid(sessionUid))?.uid).toBe(sessionUid);
      expect(statements - before).toBe(1);
    });
  });

  it('reads afresh in the next request: a grant revoked in between is gone', async () => {
    const { grantId, token } = await family();
    await withRequestScope(async () => {
      await adapter('AccessToken').find(token);
      await adapter('Grant').find(grantId);
    });
    await adapter('Grant').destroy(grantId);
    await withRequestScope(async () => {
      expect(await adapter('AccessToken').find(token)).toBeUndefined();
      expect(await adapter('Grant').find(grantId)).toBeUndefined();
    });
  });

  it('takes a read-ahead row once, and a write in the request discards what was read ahead', async () => {
    const { grantId, token } = await family();
    await withRequestScope(async () => {
      await adapter('AccessToken').find(token);
      // Another instance revokes the grant after the token was read.
      const other = new PayloadAdapter(store.db, 'Grant', store.sealer, { errors: adapterErrors, now: store.clock.now });
      await other.destroy(grantId);
      // This request's write (e.g. a consume) ends the read-ahead: the grant is read again.
      await adapter('AccessToken').upsert(randomId(), { jti: 'x', accountId: 'alice', clientId: 'app', kind: 'AccessToken' }, 600);
      expect(await adapter('Grant').find(grantId)).toBeUndefined();
    });
  });

  it('answers lookups made together with one statement', async () => {
    const tokens = await Promise.all([family(), family(), family()]);
    const before = statements;
    const found = await Promise.all(
      tokens.flatMap(({ token }) => [adapter('AccessToken').find(token), adapter('ClientCredentials').find(token), adapter('RefreshToken').find(token)]),
    );
    expect(statements - before).toBe(1);
    expect(found.filter(Boolean)).toHaveLength(3);
  });

  it('records a missing grant as missing, not as a reason to look again', async () => {
    const token = randomId();
    const grantId = randomId(); // no such grant (expired and purged, say)
    await adapter('AccessToken').upsert(token, { jti: token, grantId, accountId: 'alice', clientId: 'app', kind: 'AccessToken' }, 600);
    await withRequestScope(async () => {
      expect(await adapter('AccessToken').find(token)).toBeDefined();
      const before = statements;
      expect(await adapter('Grant').find(grantId)).toBeUndefined();
      expect(statements - before).toBe(0);
      // Taken once: asking again goes to the database.
      expect(await adapter('Grant').find(grantId)).toBeUndefined();
      expect(statements - before).toBe(1);
    });
  });

  describe('the token\'s user', () => {
    async function userWithToken() {
      const accounts = createAccounts(store.db, store.clock.now);
      const user = await accounts.create({ email: `${randomId().slice(0, 12)}@example.com`, password: 'long enough password' });
      const token = randomId();
      await adapter('RefreshToken').upsert(token, { jti: token, accountId: user.id, clientId: 'app', kind: 'RefreshToken' } as never, 600);
      return { accounts, user, token };
    }

    it('comes with the token: the account lookup that follows runs no statement', async () => {
      const { accounts, user, token } = await userWithToken();
      await withRequestScope(async () => {
        const before = statements;
        await adapter('RefreshToken').find(token);
        expect(await accounts.findById(user.id)).toEqual(user);
        expect(statements - before).toBe(1);
      });
    });

    it('is read afresh by the next request: a user disabled in between is seen disabled', async () => {
      const { accounts, user, token } = await userWithToken();
      await withRequestScope(async () => {
        await adapter('RefreshToken').find(token);
        expect((await accounts.findById(user.id))?.disabled).toBe(false);
      });
      await accounts.setDisabled(user.id, true);
      await withRequestScope(async () => {
        await adapter('RefreshToken').find(token);
        const before = statements;
        expect((await accounts.findById(user.id))?.disabled).toBe(true);
        expect(statements - before).toBe(0);
      });
    });

    it('records a removed user as absent', async () => {
      const { accounts, user, token } = await userWithToken();
      await store.db('users').where({ id: user.id }).delete();
      await withRequestScope(async () => {
        await adapter('RefreshToken').find(token);
        const before = statements;
        expect(await accounts.findById(user.id)).toBeUndefined();
        expect(statements - before).toBe(0);
      });
    });
  });
});
