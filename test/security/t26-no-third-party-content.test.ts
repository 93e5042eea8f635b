// T26 no third-party content on authorization pages (RFC 9700 §4.2.4). The login, consent,
// error and logout pages load nothing from anywhere but this server — no script, stylesheet,
// image, frame, font or form target elsewhere — so no third party learns that a user is signing
// in (or reads the code from a Referer). Links the client registered (client_uri, policy_uri,
// tos_uri) may be shown, but as plain links with rel="noopener noreferrer"; its logo_uri is not
// loaded from the third party (not shown, or proxied through this server).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { hiddenField } from '../helpers/user-agent.ts';
import {
  addClient,
  Browser,
  cssUrls,
  isConsentPage,
  isLoginPage,
  loadedReferences,
  open,
  sameOrigin,
  submit,
  summary,
  tags,
  type Page,
} from './pages-support.ts';

const THIRD_PARTY = {
  logoUri: 'https://cdn.third-party.example/logo.png',
  clientUri: 'https://app.third-party.example/',
  policyUri: 'https://app.third-party.example/privacy',
  tosUri: 'https://app.third-party.example/terms',
};

describe.each(STORES)('T26 no third-party content on authorization pages (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let app: Awaited<ReturnType<typeof addClient>>;
  const pages: Record<string, Page> = {};

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    app = await addClient(h, { name: 'Third Party Links App', ...THIRD_PARTY });

    const browser = new Browser();
    const { page: login } = await open(browser, app.config, { scope: 'openid contacts:read' });
    pages.login = login;
    const posted = await submit(browser, login, '/login', { email: f.user.email, password: f.user.password });
    const consent = await browser.follow(posted.location as string, REDIRECT);
    pages.consent = consent;
    pages['provider error (unknown client)'] = await new Browser().request(
      h.url(`/auth?client_id=nope&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}`),
    );
    pages['interaction error'] = await new Browser().request(h.url('/interaction/does-not-exist'));
    pages['404'] = await new Browser().request(h.url('/does-not-exist'));

    const allowed = await submit(browser, consent, '/consent');
    await browser.follow(allowed.location as string, REDIRECT);
    const logout = await browser.request(h.url(`/session/end?client_id=${app.clientId}`));
    pages.logout = logout;
    const confirmed = await browser.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(logout.body, 'xsrf'), logout: 'yes' } });
    pages['signed out'] = await browser.request(confirmed.location as string);
  });
  afterAll(async () => h?.close());

  it('renders each page under test', () => {
    expect(isLoginPage(pages.login as Page)).toBe(true);
    expect(isConsentPage(pages.consent as Page)).toBe(true);
    expect(pages['provider error (unknown client)']?.status).toBe(400);
    expect(pages['interaction error']?.status).toBe(400);
    expect(pages['404']?.status).toBe(404);
    expect(pages.logout?.status).toBe(200);
    expect(pages.logout?.body).toContain('/session/end/confirm');
    expect(pages['signed out']?.status).toBe(200);
  });

  it('every script, stylesheet, image, frame and form target is on this server', () => {
    for (const [name, page] of Object.entries(pages)) {
      const refs = loadedReferences(page.body);
      // Each page has at least its stylesheet; forms where there are forms.
      expect(refs.length, `${name}: ${summary(page)}`).toBeGreaterThan(0);
      for (const ref of refs) {
        expect(sameOrigin(ref.url, page.url, h.issuer), `${name}: <${ref.tag} ${ref.attribute}="${ref.url}">`).toBe(true);
      }
    }
  });

  it('the stylesheet the pages use imports nothing from elsewhere', async () => {
    const stylesheets = new Set<string>();
    for (const page of Object.values(pages)) {
      for (const tag of tags(page.body)) if (tag.name === 'link' && tag.attrs.href) stylesheets.add(new URL(tag.attrs.href, page.url).toString());
    }
    expect(stylesheets.size).toBeGreaterThan(0);
    for (const href of stylesheets) {
      const response = await fetch(href);
      expect(response.status).toBe(200);
      for (const url of cssUrls(await response.text())) expect(sameOrigin(url, href, h.issuer), `${href}: ${url}`).toBe(true);
    }
  });

  it("links to the client's own pages open without a Referer or an opener", () => {
    const consent = pages.consent as Page;
    const external = tags(consent.body).filter((t) => t.name === 'a' && t.attrs.href && !sameOrigin(t.attrs.href, consent.url, h.issuer));
    // The registered policy and terms are offered to the user (so this check is not vacuous).
    const hrefs = external.map((t) => t.attrs.href);
    expect(hrefs).toContain(THIRD_PARTY.policyUri);
    expect(hrefs).toContain(THIRD_PARTY.tosUri);
    for (const [name, page] of Object.entries(pages)) {
      for (const link of tags(page.body).filter((t) => t.name === 'a' && t.attrs.href && !sameOrigin(t.attrs.href, page.url, h.issuer))) {
        const rel = new Set((link.attrs.rel ?? '').toLowerCase().split(/\s+/));
        expect(rel.has('noopener') && rel.has('noreferrer'), `${name}: ${link.raw}`).toBe(true);
      }
    }
  });

  it("the client's logo is not loaded from the third party", () => {
    for (const [name, page] of Object.entries(pages)) {
      for (const ref of loadedReferences(page.body)) {
        expect(new URL(ref.url, page.url).hostname, `${name}: <${ref.tag} ${ref.attribute}="${ref.url}">`).not.toBe('cdn.third-party.example');
      }
      // Nor allowed by the page's policy, should markup ever try.
      expect(page.headers.get('content-security-policy') ?? '', name).not.toContain('third-party.example');
    }
  });
});
