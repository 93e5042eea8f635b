// Builds the Koa application from its dependencies (the core: storage, services, provider; see
// core.ts); no listening here (see run.ts).
import Koa from 'koa';
import mount from 'koa-mount';
import { buildCore, type AppDeps, type Core } from './core.ts';
import { createDeviceCookie } from './http/device-cookie.ts';
import { securityHeaders } from './http/security-headers.ts';
import { sameOriginPosts } from './http/same-origin.ts';
import { registrationCors } from './http/registration-cors.ts';
import { pinToIssuer } from './http/pin-to-issuer.ts';
import { laneForProviderPaths } from './http/provider-lane.ts';
import { missingClientAuthIs401 } from './oidc/client-auth-errors.ts';
import { interactionRoutes } from './routes/interaction.ts';
import { createConsentStep } from './routes/consent.ts';
import { accountRoutes } from './routes/account.ts';
import { createAccountDocuments } from './routes/account-documents.ts';
import { createDetailGrants } from './services/detail-grants.ts';
import { accountSignInRoutes } from './routes/account-sign-in.ts';
import { createAccountSession } from './routes/account-session.ts';
import { createPasswordSignIn } from './routes/password-sign-in.ts';
import { siteRoutes } from './routes/site.ts';
import { statusListRoutes } from './routes/status-lists.ts';
import { metricsRoute } from './routes/metrics.ts';
import { ADMIN_PREFIX, adminApi } from './routes/admin/router.ts';
import { throttleRegistration } from './security/throttle-hooks.ts';
import { observeRequests, routeOf } from './observability/requests.ts';
import { errorBoundary } from './http/error-boundary.ts';
import { methodNotAllowed } from './http/errors.ts';
import { PasskeyStore } from '../adapters/passkey-store.ts';
import { createPasskeys } from './services/passkeys.ts';
import { createPasskeySignIn } from './routes/passkey-sign-in.ts';
import { createPasskeyStep } from './routes/interaction-passkey.ts';
import { accountPasskeyRoutes } from './routes/account-passkeys.ts';

export type { AppDeps, Instrumentation } from './core.ts';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

export interface LatchkeyApp extends Core {
  app: Koa;
}

export async function buildApp(deps: AppDeps): Promise<LatchkeyApp> {
  const { config, keys, db, log } = deps;
  const core = await buildCore(deps);
  const { provider, accounts, catalog, views, csrf, throttle, audit, grants, metrics, isVerifiedClient } = core;
  const instrument = deps.instrument ?? {};

  const app = new Koa();
  // The provider's cookies are set through this app's context when mounted: same keys, same
  // proxy trust (OIDC-PROVIDER-NOTES "Seen when running it under load").
  app.keys = keys.cookies;
  // Scheme and host always come from the issuer (pinToIssuer rewrites the forwarded headers),
  // so reading them is safe; the client IP is taken from X-Forwarded-For only with TRUST_PROXY.
  app.proxy = true;
  // With TRUST_PROXY, the client address is the X-Forwarded-For entry PROXY_HOPS from the right
  // (Koa reads only the last maxIpsCount entries); anything further left is the client's claim.
  app.maxIpsCount = config.proxyHops;
  app.use(pinToIssuer({ issuer: config.issuer, trustProxy: config.trustProxy }));
  app.use(observeRequests({ log, metrics, trustProxy: config.trustProxy }));

  // The one place our routes' failures become responses (http/error-boundary.ts).
  app.use(errorBoundary({ views, log, routeOf, jsonUnder: [ADMIN_PREFIX] }));
  app.use(securityHeaders({ hsts: config.issuer.startsWith('https:') }));
  app.use((ctx, next) => {
    // Methods nobody here implements (TRACE, PROPFIND, ...): 405, never a 5xx (T42 fuzzing).
    if (!KNOWN_METHODS.has(ctx.method)) throw methodNotAllowed('GET, HEAD, POST, PUT, DELETE, OPTIONS');
    return next();
  });

  // From here to the provider: our routes and the guards of their paths (see the lane below).
  const oursFrom = app.middleware.length;
  app.use(
    sameOriginPosts({
      issuer: config.issuer,
      applies: (path) => path.startsWith('/interaction/') || path.startsWith('/account/') || path === '/session/end/confirm',
    }),
  );

  const site = siteRoutes({ views, db, issuer: config.issuer, lifecycle: deps.lifecycle });
  const consent = createConsentStep({
    provider,
    accounts,
    catalog,
    views,
    csrf,
    audit,
    isVerifiedClient,
    durations: { durations: config.grantDurations, defaultDuration: config.grantDurationDefault, grantTtl: config.ttl.grant },
  });
  const secureCookies = config.issuer.startsWith('https:');
  const devices = createDeviceCookie({ secure: secureCookies });
  // One password sign-in for the interaction login and the account area's form.
  const passwordSignIn = createPasswordSignIn({ accounts, throttle, devices, audit, metrics });
  // Passkeys (issue 19): sign-in, second step and step-up in the interaction; managed on the account page.
  const passkeys = createPasskeys({ store: new PasskeyStore(db), audit, issuer: config.issuer, challengeTtl: config.ttl.interaction });
  const passkeySignIn = createPasskeySignIn({ passkeys, accounts, throttle, devices, audit, metrics });
  const passkeyStep = createPasskeyStep({ provider, passkeys, passkeySignIn, catalog, views, csrf, secondFactor: config.passkeyAsSecondFactor });
  const interactions = interactionRoutes({ provider, views, csrf, passwordSignIn, consent, audit, passkeyStep });
  // The account area: our own page on the provider's login session, with its own sign-in form.
  const session = createAccountSession({ provider, accounts, sessionTtl: config.ttl.session, secureCookies });
  const accountSignIn = accountSignInRoutes({
    session,
    passwordSignIn,
    views,
    csrf,
    formTtl: config.ttl.interaction,
    secureCookies,
    passkeys: { passkeys, signIn: passkeySignIn, secondFactor: config.passkeyAsSecondFactor },
  });
  // Per-document grants (RFC 9396): listed on each app card, withdrawn one by one.
  const documents = createAccountDocuments({ session, catalog, csrf, details: createDetailGrants({ provider, audit, catalog, statusLists: core.statusLists }) });
  const account = accountRoutes({ provider, session, grants, audit, catalog, views, csrf, documents, passkeys });
  const accountPasskeys = accountPasskeyRoutes({ session, passkeys, views, csrf });
  app.use(site.routes()).use(site.allowedMethods());
  app.use(statusListRoutes({ statusLists: core.statusLists }).routes());
  if (config.metrics.token) app.use(metricsRoute(metrics, { token: config.metrics.token }).routes());
  if (instrument.routes) app.use(instrument.routes.routes());
  app.use(passkeyStep.routes.routes());
  app.use(interactions.routes()).use(interactions.allowedMethods());
  app.use(accountSignIn.routes()).use(accountSignIn.allowedMethods());
  app.use(accountPasskeys.routes());
  app.use(documents.routes.routes());
  app.use(account.routes()).use(account.allowedMethods());
  app.use(adminApi({ admin: core.administration, provider, issuer: config.issuer }));
  if (config.dynamicRegistration !== 'off') app.use(registrationCors('/reg'));
  app.use(throttleRegistration(throttle, '/reg'));
  // Registration metadata is validated synchronously against the in-memory resource catalogue:
  // read it afresh for every registration and update (they are rare), so a resource server added
  // a moment ago by the CLI or another instance is known at once.
  app.use(async (ctx, next) => {
    if ((ctx.method === 'POST' && ctx.path === '/reg') || (ctx.method === 'PUT' && ctx.path.startsWith('/reg/'))) await catalog.reload();
    return next();
  });
  // Token, introspection and revocation requests skip all of that (http/provider-lane.ts).
  laneForProviderPaths(app, oursFrom, new Set(['token', 'introspection', 'revocation'].map((route) => provider.pathFor(route))));
  app.use(missingClientAuthIs401({ issuer: config.issuer }));
  app.use(mount(provider as unknown as Koa));

  return { ...core, app };
}
