// Passkeys over real HTTP, on both stores, with a software authenticator standing where the
// user's device would be (test/helpers/soft-authenticator.ts; the server's WebAuthn code is real):
// - a passkey sign-in's tokens say so: the ID token's acr/amr/auth_time, a JWT access token's
//   acr and auth_time;
// - a credential made for another relying party id, an assertion from another origin, a
//   challenge of another sign-in, a replay: refused, as ordinary pages;
// - `acr_values=urn:latchkey:acr:passkey` steps a password session up;
// - a scope an API requires a passkey for is never in a token of a password sign-in, a refresh
//   included (the requirement added after the grant was made), and stays in a passkey grant's;
// - renaming one on the account page: only the user's own, CSRF-bound, a plain name, audited.
// The pages themselves, in Chromium with a virtual authenticator: test/browser/passkeys.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, codeFlow, confidentialClient, type AuthorizationRequest } from '../helpers/oauth.ts';
import { consentFields, formAction, hiddenField, UserAgent, type PageResponse } from '../helpers/user-agent.ts';
import { STORES } from '../helpers/databases.ts';
import { SoftAuthenticator, type Ceremony } from '../helpers/soft-authenticator.ts';

const PASSKEY = 'urn:latchkey:acr:passkey';
const PASSWORD = 'urn:latchkey:acr:password';

describe.each(STORES)('passkeys over HTTP (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let editor: client.Configuration;
  let device: SoftAuthenticator;
  let people = 0;

  beforeAll(async () => {
    h = await startServer({ store, hostname: 'localhost' });
    f = await createFixtures(h, { contactsFormat: 'jwt' });
    editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
    device = new SoftAuthenticator(h.issuer);
  });
  afterAll(async () => h?.close());

  async function person() {
    people += 1;
    const password = 'a good password 1';
    const created = await h.management.accounts.create({ email: `pk${people}-${store}@example.com`, password });
    return { email: created.email, password };
  }

  /** The account page of `user` in a new browser. */
  async function accountPage(user: { email: string; password: string }): Promise<{ agent: UserAgent; page: PageResponse }> {
    const agent = new UserAgent();
    const form = await agent.follow(h.url('/account'), 'x:');
    const posted = await agent.request(h.url(formAction(form.body, '/login')), { form: { csrf: hiddenField(form.body, 'csrf'), email: user.email, password: user.password } });
    expect(posted.location).toBe(h.url('/account'));
    return { agent, page: await agent.request(h.url('/account')) };
  }

  async function register(agent: UserAgent, page: PageResponse, authenticator: SoftAuthenticator, ceremony: Ceremony = {}, name = 'Soft key') {
    const csrf = hiddenField(page.body, 'csrf');
    const options = await agent.request(h.url('/account/passkeys/options'), { form: { csrf } });
    expect(options.status).toBe(200);
    const credential = authenticator.register(JSON.parse(options.body), ceremony);
    return agent.request(h.url('/account/passkeys'), { form: { csrf, name, credential: JSON.stringify(credential) } });
  }

  /** The login page of a new authorization request. */
  async function loginPage(agent: UserAgent, params: Record<string, string> = {}) {
    const request = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope: 'openid contacts:read', ...params });
    const page = await agent.follow(request.url.toString(), REDIRECT);
    expect(page.status).toBe(200);
    return { request, page };
  }

  async function passkeyOptions(agent: UserAgent, page: PageResponse) {
    const options = await agent.request(new URL(`${new URL(page.url).pathname}/passkey/options`, h.issuer).toString(), { form: { csrf: hiddenField(page.body, 'csrf') } });
    expect(options.status).toBe(200);
    return JSON.parse(options.body) as { challenge: string; rpId: string; allowCredentials?: Array<{ id: string }> };
  }

  function postAssertion(agent: UserAgent, page: PageResponse, assertion: unknown) {
    return agent.request(new URL(`${new URL(page.url).pathname}/passkey`, h.issuer).toString(), { form: { csrf: hiddenField(page.body, 'csrf'), credential: JSON.stringify(assertion) } });
  }

  /** Follows a 303 after sign-in through consent (approving) back to the app; the tokens. */
  async function toTokens(agent: UserAgent, response: PageResponse, request: AuthorizationRequest) {
    let page = response;
    for (let step = 0; step < 4 && !page.location?.startsWith(REDIRECT); step += 1) {
      if (page.location) page = await agent.follow(page.location, REDIRECT);
      else if (page.body.includes('/consent"')) page = await agent.request(new URL(formAction(page.body, '/consent'), page.url).toString(), { form: consentFields(page.body) });
      else throw new Error(`stuck at ${page.url}: ${page.status} ${page.body.slice(0, 400)}`);
    }
    return client.authorizationCodeGrant(editor, new URL(page.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state });
  }

  it('registers a passkey and signs in with it: ID token and JWT access token say how', async () => {
    const user = await person();
    const { agent, page } = await accountPage(user);
    const added = await register(agent, page, device);
    expect(added.status).toBe(303);
    expect((await agent.request(h.url('/account'))).body).toContain('Soft key');

    const browser = new UserAgent();
    const { request, page: login } = await loginPage(browser, { scope: 'openid contacts:read contacts:write' });
    const signedIn = await postAssertion(browser, login, device.authenticate(await passkeyOptions(browser, login)));
    expect(signedIn.status).toBe(303);
    const tokens = await toTokens(browser, signedIn, request);
    const idToken = jose.decodeJwt(tokens.id_token as string);
    expect(idToken).toMatchObject({ acr: PASSKEY, amr: ['hwk', 'user'] });
    const accessToken = jose.decodeJwt(tokens.access_token);
    expect(accessToken).toMatchObject({ acr: PASSKEY, auth_time: idToken.auth_time, aud: f.contacts.id });
    const discovery = (await (await fetch(h.url('/.well-known/openid-configuration'))).json()) as Record<string, string[]>;
    expect(discovery.acr_values_supported).toEqual([PASSWORD, PASSKEY]);
    expect(discovery.claims_supported).toEqual(expect.arrayContaining(['acr', 'amr', 'auth_time']));
  });

  it('renames a passkey: own only, CSRF-bound, a plain name of 1 to 64 characters; audited in the trail', async () => {
    const owner = await person();
    const { agent, page } = await accountPage(owner);
    const key = new SoftAuthenticator(h.issuer);
    expect((await register(agent, page, key)).status).toBe(303);
    const csrf = hiddenField(page.body, 'csrf');
    const rename = (as: UserAgent, fields: Record<string, string>) => as.request(h.url('/account/passkeys/rename'), { form: fields });

    const renamed = await rename(agent, { csrf, id: key.id, name: '  Work laptop  ' });
    expect(renamed.status).toBe(303);
    expect(renamed.location).toBe(h.url('/account'));
    const after = await agent.request(h.url('/account'));
    expect(after.body).toContain('Passkey renamed.');
    expect(after.body).toContain('<strong>Work laptop</strong>');
    expect(after.body).toContain('Passkey “Soft key” renamed to “Work laptop”');
    await h.app.audit.idle();
    const [audited] = await h.app.audit.list({ accountId: (await h.management.accounts.findByEmail(owner.email))?.id, event: 'passkey.renamed' });
    expect(audited).toMatchObject({ event: 'passkey.renamed', actor: 'user', details: { name: 'Work laptop', from: 'Soft key' } });

    // Without the page's CSRF token (a form from elsewhere, an expired page): refused, unchanged.
    const forged = await rename(agent, { csrf: 'not-the-token', id: key.id, name: 'Forged' });
    expect(forged.status).toBe(403);
    expect(forged.body).toContain('This form has expired');

    // Names that are not one: refused on an ordinary page, never a 5xx, the name unchanged.
    for (const [name, words] of [
      ['   ', 'A passkey needs a name'],
      ['Key\u0007bell', 'cannot contain control characters'],
      ['Two\nlines', 'cannot contain control characters'],
      ['Key\u0000', 'cannot contain control characters'],
      ['evil\u202Etxt.exe', 'cannot contain control characters'],
      ['x'.repeat(65), 'at most 64 characters'],
    ] as const) {
      const refused = await rename(agent, { csrf, id: key.id, name });
      expect(refused.status, JSON.stringify(name)).toBe(400);
      expect(refused.body).toContain('Passkey not renamed');
      expect(refused.body).toContain(words);
    }
    // Markup is only text: stored as typed, shown escaped. 64 characters (code points) is allowed.
    expect((await rename(agent, { csrf, id: key.id, name: '<b>Mine</b>' })).status).toBe(303);
    expect((await agent.request(h.url('/account'))).body).toContain('&lt;b&gt;Mine&lt;/b&gt;');
    expect((await rename(agent, { csrf, id: key.id, name: '🔑'.repeat(64) })).status).toBe(303);
    expect((await rename(agent, { csrf, id: key.id, name: 'Work laptop' })).status).toBe(303);

    // Another user, signed in with their own session and token, cannot rename this passkey.
    const other = await accountPage(await person());
    const otherCsrf = hiddenField(other.page.body, 'csrf');
    const foreign = await rename(other.agent, { csrf: otherCsrf, id: key.id, name: 'Stolen' });
    expect(foreign.status).toBe(404);
    expect(foreign.body).toContain('no such passkey on your account');
    expect((await rename(other.agent, { csrf: otherCsrf, id: 'no-such-id', name: 'Nothing' })).status).toBe(404);
    const mine = (await agent.request(h.url('/account'))).body;
    expect(mine).toContain('<strong>Work laptop</strong>');
    expect(mine).not.toContain('Stolen');
    expect(mine).not.toContain('Forged');
  });

  it('a name that reads differently from what it is, or is too long, is refused when adding too; nothing is added', async () => {
    const user = await person();
    const { agent, page } = await accountPage(user);
    for (const name of ['evil\u202Etxt.exe', 'x'.repeat(65)]) {
      const refused = await register(agent, page, new SoftAuthenticator(h.issuer), {}, name);
      expect(refused.status, name).toBe(400);
      expect(refused.body).toContain('Passkey not added');
    }
    expect((await agent.request(h.url('/account'))).body).not.toContain('txt.exe');
  });

  it('refuses a credential made for another relying party id, at registration and at sign-in', async () => {
    const user = await person();
    const { agent, page } = await accountPage(user);
    const foreign = new SoftAuthenticator(h.issuer);
    const refused = await register(agent, page, foreign, { rpId: 'other.example' });
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('Passkey not added');

    const browser = new UserAgent();
    const { page: login } = await loginPage(browser);
    const answer = await postAssertion(browser, login, device.authenticate(await passkeyOptions(browser, login), { rpId: 'other.example' }));
    expect(answer.status).toBe(401);
    expect(answer.body).toContain('could not sign you in');
  });

  it('refuses an assertion made on another origin, or for another sign-in, and a replay', async () => {
    const browser = new UserAgent();
    const { page: login } = await loginPage(browser);
    const phished = await postAssertion(browser, login, device.authenticate(await passkeyOptions(browser, login), { origin: 'https://latchkey.evil.example' }));
    expect(phished.status).toBe(401);

    // A challenge handed to another sign-in (another interaction) does not sign this one in.
    const other = new UserAgent();
    const { page: otherLogin } = await loginPage(other);
    const stolen = await postAssertion(browser, login, device.authenticate(await passkeyOptions(other, otherLogin)));
    expect(stolen.status).toBe(401);

    const assertion = device.authenticate(await passkeyOptions(browser, login));
    expect((await postAssertion(browser, login, assertion)).status).toBe(303);
    const replay = await postAssertion(browser, login, assertion);
    expect(replay.status).toBe(401);
    expect(replay.body).toContain('could not sign you in');
    // Nonsense where the credential should be: the same ordinary page, never a 5xx.
    expect((await postAssertion(browser, login, { id: 'x' })).status).toBe(400);
  });

  it('acr_values=urn:latchkey:acr:passkey steps a password session up', async () => {
    const user = await person();
    const { agent } = await accountPage(user);
    // Signed in with a password on /account; the app asks for a passkey sign-in.
    const { request, page } = await loginPage(agent, { acr_values: PASSKEY });
    expect(page.body).toContain('A passkey is needed');
    expect(page.body).toContain('The app asks you to sign in with a passkey');
    // Without acr_values the password session is enough.
    const plain = await loginPage(agent);
    expect(plain.page.body).toContain('/consent"');
    expect(request.state).toBeTruthy();
  });

  it('a scope that needs a passkey: never in a password sign-in token, a refresh included; kept on refresh of a passkey grant', async () => {
    // A grant made with a password before the API required a passkey for contacts:write.
    const user = await person();
    const before = await codeFlow(editor, user, { redirect_uri: REDIRECT, scope: 'openid offline_access contacts:read contacts:write' });
    expect(jose.decodeJwt(before.tokens.access_token).scope).toBe('contacts:read contacts:write');
    expect(jose.decodeJwt(before.tokens.id_token as string).acr).toBe(PASSWORD);

    await h.management.resources.update(f.contacts.id, { requirePasskeyFor: ['contacts:write'] });
    await h.app.catalog.reload();
    try {
      const refreshed = await client.refreshTokenGrant(editor, before.tokens.refresh_token as string);
      expect(jose.decodeJwt(refreshed.access_token).scope).toBe('contacts:read');

      // A passkey sign-in gets it, and keeps it when refreshing.
      const browser = new UserAgent();
      const { request, page: login } = await loginPage(browser, { scope: 'openid offline_access contacts:read contacts:write' });
      const signedIn = await postAssertion(browser, login, device.authenticate(await passkeyOptions(browser, login)));
      const tokens = await toTokens(browser, signedIn, request);
      expect(jose.decodeJwt(tokens.access_token).scope).toBe('contacts:read contacts:write');
      const again = await client.refreshTokenGrant(editor, tokens.refresh_token as string);
      expect(jose.decodeJwt(again.access_token)).toMatchObject({ scope: 'contacts:read contacts:write', acr: PASSKEY });
    } finally {
      await h.management.resources.update(f.contacts.id, { requirePasskeyFor: [] });
      await h.app.catalog.reload();
    }
  });
});

describe.each(STORES)('PASSKEY_AS_SECOND_FACTOR=required-when-registered (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let editor: client.Configuration;

  beforeAll(async () => {
    h = await startServer({ store, hostname: 'localhost', env: { PASSKEY_AS_SECOND_FACTOR: 'required-when-registered' } });
    f = await createFixtures(h);
    editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
  });
  afterAll(async () => h?.close());

  it('a user with a passkey cannot sign in with the password alone, here or on /account; the passkey completes it', async () => {
    const user = f.user;
    const device = new SoftAuthenticator(h.issuer);
    // Before any passkey, the password signs in on /account; there the passkey is added.
    const agent = new UserAgent();
    const form = await agent.follow(h.url('/account'), 'x:');
    expect(form.body).toContain('Sign in with a passkey');
    await agent.request(h.url(formAction(form.body, '/login')), { form: { csrf: hiddenField(form.body, 'csrf'), email: user.email, password: user.password } });
    const page = await agent.request(h.url('/account'));
    const csrf = hiddenField(page.body, 'csrf');
    const options = JSON.parse((await agent.request(h.url('/account/passkeys/options'), { form: { csrf } })).body);
    expect((await agent.request(h.url('/account/passkeys'), { form: { csrf, name: 'Key', credential: JSON.stringify(device.register(options)) } })).status).toBe(303);
    // That browser's session was signed in with the password alone, before the passkey: an app's
    // request through it now asks for the passkey too.
    const earlier = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    expect((await agent.follow(earlier.url.toString(), REDIRECT)).body).toContain('Confirm with your passkey');

    // An app's sign-in: the password leads to the passkey step, which cannot be skipped.
    const browser = new UserAgent();
    const request = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const login = await browser.follow(request.url.toString(), REDIRECT);
    const posted = await browser.request(new URL(formAction(login.body, '/login'), login.url).toString(), { form: { csrf: hiddenField(login.body, 'csrf'), email: user.email, password: user.password } });
    const step = await browser.follow(posted.location as string, REDIRECT);
    expect(step.body).toContain('Confirm with your passkey');
    expect(step.body).not.toContain('Continue without a passkey');
    const stepCsrf = hiddenField(step.body, 'csrf');
    expect((await browser.request(new URL(`${new URL(step.url).pathname}/passkey/skip`, h.issuer).toString(), { form: { csrf: stepCsrf } })).status).toBe(400);
    const stepOptions = JSON.parse((await browser.request(new URL(`${new URL(step.url).pathname}/passkey/options`, h.issuer).toString(), { form: { csrf: stepCsrf } })).body);
    // Only the account's own passkeys are offered for the second step.
    expect(stepOptions.allowCredentials.map((c: { id: string }) => c.id)).toEqual([device.id]);
    const done = await browser.request(new URL(`${new URL(step.url).pathname}/passkey`, h.issuer).toString(), { form: { csrf: stepCsrf, credential: JSON.stringify(device.authenticate(stepOptions)) } });
    expect(done.status).toBe(303);
    let next = await browser.follow(done.location as string, REDIRECT);
    if (!next.location) next = await browser.request(new URL(formAction(next.body, '/consent'), next.url).toString(), { form: consentFields(next.body) });
    next = next.location?.startsWith(REDIRECT) ? next : await browser.follow(next.location as string, REDIRECT);
    const tokens = await client.authorizationCodeGrant(editor, new URL(next.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state });
    expect(jose.decodeJwt(tokens.id_token as string)).toMatchObject({ acr: PASSKEY, amr: ['pwd', 'hwk', 'user', 'mfa'] });

    // The account area: the password alone is refused, the passkey signs in.
    const other = new UserAgent();
    const signIn = await other.follow(h.url('/account'), 'x:');
    const refused = await other.request(h.url(formAction(signIn.body, '/login')), { form: { csrf: hiddenField(signIn.body, 'csrf'), email: user.email, password: user.password } });
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('also needs its passkey');
    const formCsrf = hiddenField(refused.body, 'csrf');
    const accountOptions = JSON.parse((await other.request(h.url('/account/sign-in/passkey/options'), { form: { csrf: formCsrf } })).body);
    const viaPasskey = await other.request(h.url('/account/sign-in/passkey'), { form: { csrf: formCsrf, credential: JSON.stringify(device.authenticate(accountOptions)) } });
    expect(viaPasskey.location).toBe(h.url('/account'));
    expect((await other.request(h.url('/account'))).body).toContain('Connected apps');
  });

  it('failed passkey sign-ins count in the login back-off as wrong passwords do', async () => {
    const user = await h.management.accounts.create({ email: `throttled-${store}@example.com`, password: 'throttled password 1' });
    const device = new SoftAuthenticator(h.issuer);
    const agent = new UserAgent();
    const form = await agent.follow(h.url('/account'), 'x:');
    await agent.request(h.url(formAction(form.body, '/login')), { form: { csrf: hiddenField(form.body, 'csrf'), email: user.email, password: 'throttled password 1' } });
    const csrf = hiddenField((await agent.request(h.url('/account'))).body, 'csrf');
    const creation = JSON.parse((await agent.request(h.url('/account/passkeys/options'), { form: { csrf } })).body);
    await agent.request(h.url('/account/passkeys'), { form: { csrf, name: 'Key', credential: JSON.stringify(device.register(creation)) } });

    // A stranger's browser (no device cookie) tries the account's passkey from a phishing origin.
    const stranger = new UserAgent();
    const request = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const login = await stranger.follow(request.url.toString(), REDIRECT);
    const base = h.url(new URL(login.url).pathname);
    const attempt = async (ceremony: { origin?: string }) => {
      const options = JSON.parse((await stranger.request(`${base}/passkey/options`, { form: { csrf: hiddenField(login.body, 'csrf') } })).body);
      return stranger.request(`${base}/passkey`, { form: { csrf: hiddenField(login.body, 'csrf'), credential: JSON.stringify(device.authenticate(options, ceremony)) } });
    };
    const statuses = [];
    // The free attempts, then the one the back-off window lets through (security/login-throttle.ts).
    for (let i = 0; i <= Number(h.config.throttle.loginFreeAttempts); i += 1) statuses.push((await attempt({ origin: 'https://evil.example' })).status);
    expect(statuses.every((status) => status === 401)).toBe(true);
    // Within the window even a genuine assertion waits, and is told so on an ordinary page.
    const throttled = await attempt({});
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(throttled.body).toContain('Too many failed sign-in attempts');
  });
});

describe.each(STORES)('an IP-address issuer (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  it('offers no passkeys: browsers refuse an IP address as a relying party id', async () => {
    const editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
    const agent = new UserAgent();
    const request = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const login = await agent.follow(request.url.toString(), REDIRECT);
    expect(login.body).toContain('Password');
    expect(login.body).not.toContain('passkey');
    const refused = await agent.request(new URL(`${new URL(login.url).pathname}/passkey/options`, h.issuer).toString(), { form: { csrf: hiddenField(login.body, 'csrf') } });
    expect(refused.status).toBe(404);
    const account = await agent.follow(h.url('/account'), 'x:');
    expect(account.body).not.toContain('passkey');
  });
});
