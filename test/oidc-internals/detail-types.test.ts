// Pins internals/detail-types.ts: oidc-provider's request check still asks `Object.hasOwn(types,
// type)` on the feature configuration reached through lib/helpers/weak_cache.js and then calls
// `types[type].validate(ctx, detail, client)`; discovery still lists `Object.keys(types)`; and
// a client instance still takes its metadata by assignment, so the prototype accessor drops the
// per-client `authorization_details_types` (default []) that would otherwise refuse every type.
// An upgrade that changed any of these fails here instead of refusing (or letting through) every
// authorization detail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errors } from 'oidc-provider';
import { serveLiveDetailTypes } from '../../server/oidc/internals/detail-types.ts';
import { CLIENT_SECRET, REDIRECT_URI, startBareProvider, type BareProvider } from './bare-provider.ts';

const RAR = {
  features: {
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'https://api.example',
      getResourceServerInfo: () => ({ scope: 'read', audience: 'https://api.example', accessTokenFormat: 'opaque' as const }),
    },
    richAuthorizationRequests: {
      enabled: true,
      types: {},
      authorizationDetailsForGrantSource: () => undefined,
      authorizationDetailsForAccessToken: () => undefined,
      authorizationDetailsForIntrospection: () => undefined,
    },
  },
};

/** A pushed authorization request (RFC 9126) from the bare provider's confidential client. */
async function push(bare: BareProvider, details: unknown[]) {
  const response = await fetch(bare.url('/request'), {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`basic-client:${CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ response_type: 'code', client_id: 'basic-client', redirect_uri: REDIRECT_URI, scope: 'openid', authorization_details: JSON.stringify(details) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

describe('oidc-provider checks authorization details through the types object (richAuthorizationRequests)', () => {
  let plain: BareProvider;
  let live: BareProvider;
  const seen: Array<{ detail: unknown; clientId: unknown }> = [];

  beforeAll(async () => {
    plain = await startBareProvider(RAR as never);
    live = await startBareProvider(RAR as never, undefined, (provider) =>
      serveLiveDetailTypes(provider, () => ['document'], (_ctx, detail, client) => {
        seen.push({ detail, clientId: (client as { clientId?: string }).clientId });
        if (detail.type !== 'document') throw new errors.InvalidAuthorizationDetails('unsupported authorization details type');
      }),
    );
  });
  afterAll(async () => {
    await plain?.close();
    await live?.close();
  });

  it('without the live view, a type not in the configuration is refused by the provider itself', async () => {
    const answer = await push(plain, [{ type: 'document' }]);
    expect([answer.status, answer.body.error]).toEqual([400, 'invalid_authorization_details']);
  });

  it('with it, every type reaches our validate with the detail and the client, whatever the client metadata default', async () => {
    expect((await push(live, [{ type: 'document', identifier: 'doc-1' }])).status).toBe(201);
    expect(seen).toContainEqual({ detail: { type: 'document', identifier: 'doc-1' }, clientId: 'basic-client' });
    const refused = await push(live, [{ type: 'spreadsheet' }]);
    expect([refused.status, refused.body.error]).toEqual([400, 'invalid_authorization_details']);
    expect(seen.some((s) => (s.detail as { type: string }).type === 'spreadsheet')).toBe(true);
  });

  it('discovery lists the declared types', async () => {
    const metadata = (await (await fetch(live.url('/.well-known/openid-configuration'))).json()) as Record<string, unknown>;
    expect(metadata.authorization_details_types_supported).toEqual(['document']);
  });
});
