// The account area: the apps a user has let in, what each may do, until when, and the controls
// to narrow or end that access, or to sign out everywhere. It is the authorization server's own
// page on the login session (account-session.ts); a browser without one is sent to our sign-in
// page (account-sign-in.ts) and comes back here.
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Audit, AuditRecord } from '../services/audit.ts';
import type { Grants, GrantSummary } from '../services/grants.ts';
import type { ResourceCatalog, ResourceSnapshot } from '../services/resources.ts';
import type { Views } from '../http/views.ts';
import type { Csrf } from '../http/csrf.ts';
import { field, formBody } from '../http/body.ts';
import { HttpError } from '../http/errors.ts';
import { describeClient, describeScope } from './consent-view.ts';
import { accountFormBinding, signedInForm, type AccountSession } from './account-session.ts';
import { SIGN_IN_PATH } from './account-sign-in.ts';
import type { AccountDocuments } from './account-documents.ts';
import type { Passkeys } from '../services/passkeys.ts';
import { passkeyPanel } from './account-passkeys.ts';

export interface AccountDeps {
  provider: Provider;
  session: AccountSession;
  grants: Grants;
  audit: Audit;
  catalog: ResourceCatalog;
  views: Views;
  csrf: Csrf;
  /** Per-document grants (RFC 9396) on each app card (account-documents.ts); absent: not shown. */
  documents?: AccountDocuments | undefined;
  /** The passkeys section (account-passkeys.ts); absent: not shown. */
  passkeys?: Passkeys | undefined;
}

const EVENT_WORDS: Record<string, string> = {
  'consent.given': 'You gave access',
  'consent.changed': 'Access changed',
  'consent.revoked': 'Access revoked',
  'consent.denied': 'You refused access',
  'token.issued': 'Signed in to the app',
  'token.refreshed': 'Access renewed',
  'token.reuse_detected': 'A reused token was refused and access ended',
  'login.success': 'Signed in',
  'login.failure': 'Failed sign-in',
  logout: 'Signed out',
};

function date(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toUTCString().replace(' GMT', ' UTC');
}

function appCard(grant: GrantSummary, client: Awaited<ReturnType<Provider['Client']['find']>>, snapshot: ResourceSnapshot, lastUsed: number | undefined, trail: AuditRecord[]) {
  const groups = [
    ...(grant.oidc.length ? [{ title: 'Your account', resource: undefined as string | undefined, scopes: grant.oidc }] : []),
    ...Object.entries(grant.resources).map(([indicator, scopes]) => ({ title: snapshot.get(indicator)?.name ?? indicator, resource: indicator, scopes })),
  ].map((group) => ({ ...group, scopes: group.scopes.map((scope) => ({ scope, description: describeScope(scope, snapshot, group.resource), removable: scope !== 'openid' })) }));
  const selfContained = Object.keys(grant.resources)
    .map((indicator) => snapshot.get(indicator))
    .filter((resource) => resource?.tokenFormat === 'jwt')
    .map((resource) => ({ name: resource?.name, minutes: Math.ceil((resource?.accessTokenTtl ?? 0) / 60) }));
  return {
    grantId: grant.grantId,
    client: client ? describeClient(client) : { id: grant.clientId, name: grant.clientId, initial: grant.clientId[0]?.toUpperCase() ?? '?' },
    groups,
    grantedAt: date(grant.grantedAt),
    expiresAt: date(grant.expiresAt),
    lastUsed: date(lastUsed),
    selfContained,
    trail: trail
      .filter((entry) => !entry.grantId || entry.grantId === grant.grantId)
      .slice(0, 8)
      .map((entry) => ({ at: date(entry.at), what: trailWords(entry, snapshot, client ? describeClient(client).name : grant.clientId) })),
  };
}

/** One line of an app's activity trail; an exchange names the API that acted for the app (RFC 8693). */
function trailWords(entry: AuditRecord, snapshot: ResourceSnapshot, appName: string): string {
  if (entry.event === 'token.exchanged') {
    const { through, resource, scope } = entry.details as { through?: string; resource?: string; scope?: string };
    const via = (through && snapshot.get(through)?.name) ?? through ?? 'an API';
    const what = String(scope ?? '')
      .split(' ')
      .filter(Boolean)
      .map((s) => describeScope(s, snapshot, resource))
      .map((words) => words.charAt(0).toLowerCase() + words.slice(1))
      .join(', ');
    return `${appName}, through ${via}, ${what || 'used your access'}`;
  }
  return EVENT_WORDS[entry.event] ?? entry.event;
}

/**
 * What the last form did, for the page after its redirect: a signed cookie read once, so a
 * notice ("Access revoked") is shown only when this browser's form really did it, never from a
 * crafted link.
 */
const NOTICE_COOKIE = 'latchkey.notice';
const NOTICES = {
  revoked: 'Access revoked. The app can no longer use your account.',
  narrowed: 'Permission removed.',
  'passkey-added': 'Passkey added.',
  'passkey-renamed': 'Passkey renamed.',
  'passkey-removed': 'Passkey removed.',
} as const;
type Notice = keyof typeof NOTICES;

export function setNotice(ctx: Context, notice: Notice): void {
  ctx.cookies.set(NOTICE_COOKIE, notice, { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/account', maxAge: 60_000, overwrite: true });
}

function takeNotice(ctx: Context): Notice | undefined {
  const notice = ctx.cookies.get(NOTICE_COOKIE, { signed: true });
  if (notice === undefined) return undefined;
  ctx.cookies.set(NOTICE_COOKIE, '', { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/account', maxAge: 0, overwrite: true });
  return Object.hasOwn(NOTICES, notice) ? (notice as Notice) : undefined;
}

export function accountRoutes(deps: AccountDeps): Router {
  const { provider, views, csrf, grants } = deps;
  const router = new Router();

  /** The signed-in account, and the CSRF binding for its forms; or undefined after redirecting. */
  async function requireUser(ctx: Context) {
    const signedIn = await deps.session.current(ctx);
    if (!signedIn) {
      if (ctx.method !== 'GET') throw new HttpError(401, 'login_required', 'Your session has ended. Sign in again to manage your apps.', { title: 'Signed out' });
      ctx.status = 303;
      ctx.redirect(SIGN_IN_PATH);
      return undefined;
    }
    return { user: signedIn.user, binding: accountFormBinding(signedIn) };
  }

  router.get('/account', async (ctx) => {
    const signedIn = await requireUser(ctx);
    if (!signedIn) return;
    const snapshot = await deps.catalog.current();
    const [all, lastUsed, trail] = await Promise.all([
      grants.forAccount(signedIn.user.id),
      deps.audit.lastUsed(signedIn.user.id),
      deps.audit.list({ accountId: signedIn.user.id, limit: 200 }),
    ]);
    const apps = [];
    for (const grant of all) {
      const client = await provider.Client.find(grant.clientId);
      const card = appCard(grant, client, snapshot, lastUsed.get(grant.clientId), trail.filter((e) => e.clientId === grant.clientId));
      apps.push({ ...card, documents: (await deps.documents?.linesFor(grant.grantId)) ?? [] });
    }
    const done = takeNotice(ctx);
    await views.respond(ctx, 'account', {
      title: 'Connected apps',
      user: { email: signedIn.user.email, name: signedIn.user.name },
      csrf: csrf.tokenFor(signedIn.binding),
      apps,
      notice: done ? NOTICES[done] : undefined,
      passkeys: deps.passkeys?.enabled ? await passkeyPanel(deps.passkeys, signedIn.user.id, trail) : undefined,
    });
  });

  router.post('/account/apps/:grantId/revoke', formBody, async (ctx) => {
    const signedIn = await signedInForm(ctx, deps.session, csrf, 'apps');
    const grant = await grants.find(ctx.params.grantId as string);
    // Only the signed-in user's own grants: an id of someone else's is treated as unknown.
    const revoked = grant?.accountId === signedIn.user.id && (await grants.revoke(grant.grantId, { actor: 'user', ip: ctx.ip }));
    ctx.status = 303;
    if (revoked) setNotice(ctx, 'revoked');
    ctx.redirect('/account');
  });

  router.post('/account/apps/:grantId/remove-scope', formBody, async (ctx) => {
    const signedIn = await signedInForm(ctx, deps.session, csrf, 'apps');
    const grant = await grants.find(ctx.params.grantId as string);
    const scope = field(ctx.request.body, 'scope');
    // Which API's scope (two may define the same name); absent for OpenID Connect scopes.
    const resource = field(ctx.request.body, 'resource');
    const removed = grant?.accountId === signedIn.user.id && scope !== undefined && (await grants.removeScope(grant.grantId, scope, { actor: 'user', ip: ctx.ip }, resource));
    ctx.status = 303;
    if (removed) setNotice(ctx, 'narrowed');
    ctx.redirect('/account');
  });

  router.post('/account/sign-out-everywhere', formBody, async (ctx) => {
    const signedIn = await signedInForm(ctx, deps.session, csrf, 'apps');
    await grants.signOutEverywhere(signedIn.user.id, { ip: ctx.ip });
    ctx.status = 303;
    ctx.redirect('/account/signed-out');
  });

  router.get('/account/signed-out', async (ctx) => {
    await views.respond(ctx, 'logged-out', { title: 'Signed out everywhere', everywhere: true, clientName: undefined });
  });

  return router;
}
