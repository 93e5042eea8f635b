import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('refresh tokens (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let reader: client.Configuration;
  let rs: client.Configuration;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    rs = await confidentialClient(h, f.contacts.clientId, f.contacts.clientSecret);
  });
  afterAll(async () => h?.close());

  const flow = () => codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });

  it('rotates on every use, also for confidential clients, keeping scope and audience', async () => {
    const { tokens } = await flow();
    const first = tokens.refresh_token as string;
    const refreshed = await client.refreshTokenGrant(reader, first);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(first);
    const info = await client.tokenIntrospection(rs, refreshed.access_token);
    expect(info.active).toBe(true);
    expect(info.scope).toBe('contacts:read');
    expect(info.aud).toBe(f.contacts.id);
  });

  it('reuse of an older rotated refresh token is refused and revokes the whole grant', async () => {
    const { tokens } = await flow();
    const first = tokens.refresh_token as string;
    const second = await client.refreshTokenGrant(reader, first);
    const third = await client.refreshTokenGrant(reader, second.refresh_token as string);

    // RT1 is two generations old: no grace applies, this is reuse.
    await expect(client.refreshTokenGrant(reader, first)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The whole family dies with the grant, including the newest pair.
    await expect(client.refreshTokenGrant(reader, third.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await client.tokenIntrospection(rs, third.access_token)).active).toBe(false);
  });

  it('a refresh may narrow but never widen scope or change audience', async () => {
    const { tokens } = await flow();
    await expect(client.refreshTokenGrant(reader, tokens.refresh_token as string, { scope: 'contacts:read contacts:write' })).rejects.toMatchObject({
      error: 'invalid_scope',
    });
    await expect(client.refreshTokenGrant(reader, tokens.refresh_token as string, { resource: f.calendar.id })).rejects.toMatchObject({
      error: 'invalid_target',
    });
  });

  it('a refresh token only works for the client it was issued to', async () => {
    const { tokens } = await flow();
    const editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
    await expect(client.refreshTokenGrant(editor, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    // A foreign presentation is not reuse by the owner: the owner's token still works.
    await expect(client.refreshTokenGrant(reader, tokens.refresh_token as string)).resolves.toHaveProperty('access_token');
  });

  it('a disabled user can no longer refresh', async () => {
    const user = await h.management.accounts.create({ email: `carol-${store}@example.com`, password: 'long enough password' });
    const { tokens } = await codeFlow(reader, { email: user.email, password: 'long enough password' }, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    await h.management.accounts.setDisabled(user.id, true);
    await expect(client.refreshTokenGrant(reader, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('ten concurrent refreshes of one token: one successor pair, handed to every retry, and no 5xx', async () => {
    const { tokens } = await flow();
    const attempts = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetch(h.url('/token'), {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${f.reader.clientId}:${f.reader.clientSecret}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> })),
      ),
    );
    expect(attempts.filter((a) => a.status >= 500)).toEqual([]);
    for (const failure of attempts.filter((a) => a.status !== 200)) expect(failure.body.error).toBe('invalid_grant');
    const successors = new Set(attempts.filter((a) => a.status === 200).map((a) => a.body.refresh_token));
    expect(successors.size).toBe(1);
    const [successor] = [...successors];
    expect((await client.tokenIntrospection(reader, successor as string)).active).toBe(true);
  });
});
