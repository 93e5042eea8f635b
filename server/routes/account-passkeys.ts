// Passkeys on the account page (issue 19): add one (a WebAuthn registration through
// /assets/passkeys.js, named by the user), see when each was last used, rename or remove one.
// Every change is audited (services/passkeys.ts) and listed in the section's activity trail. A
// failed or cancelled registration, or a refused name, is an ordinary page, never a 500.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Views } from '../http/views.ts';
import type { Csrf } from '../http/csrf.ts';
import { field, formBody } from '../http/body.ts';
import { HttpError } from '../http/errors.ts';
import type { AuditRecord } from '../services/audit.ts';
import { parseCredential, passkeyName, passkeyRename, type Passkeys } from '../services/passkeys.ts';
import { signedInForm, type AccountSession } from './account-session.ts';
import { setNotice } from './account.ts';

export interface AccountPasskeyDeps {
  session: AccountSession;
  passkeys: Passkeys;
  views: Views;
  csrf: Csrf;
}

function date(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toUTCString().replace(' GMT', ' UTC');
}

function trailWords(entry: AuditRecord): string | undefined {
  const name = typeof entry.details.name === 'string' ? `“${entry.details.name}”` : '';
  if (entry.event === 'passkey.added') return `Passkey ${name} added`;
  if (entry.event === 'passkey.removed') return `Passkey ${name} removed`;
  if (entry.event === 'passkey.renamed') {
    return typeof entry.details.from === 'string' ? `Passkey “${entry.details.from}” renamed to ${name}` : `Passkey renamed to ${name}`;
  }
  if (entry.event === 'login.success' && entry.details.method === 'passkey') {
    return `Signed in with passkey ${typeof entry.details.passkey === 'string' ? `“${entry.details.passkey}”` : ''}`.trim();
  }
  if (entry.event === 'login.failure' && entry.details.method === 'passkey') return 'A passkey sign-in was refused';
  return undefined;
}

/** What the account page shows of the user's passkeys; `trail` is the account's audit trail, newest first. */
export async function passkeyPanel(passkeys: Passkeys, accountId: string, trail: AuditRecord[]) {
  const items = await passkeys.list(accountId);
  return {
    items: items.map((p) => ({ id: p.id, name: p.name, createdAt: date(p.createdAt), lastUsedAt: date(p.lastUsedAt), backedUp: p.backedUp })),
    trail: trail
      .map((entry) => ({ at: date(entry.at), what: trailWords(entry) }))
      .filter((line) => line.what)
      .slice(0, 10),
  };
}

export function accountPasskeyRoutes(deps: AccountPasskeyDeps): Router {
  const { session, passkeys, csrf } = deps;
  const router = new Router();

  /** The signed-in user, with the page's CSRF token checked; a form after sign-out is refused. */
  async function passkeyForm(ctx: Context) {
    const signedIn = await signedInForm(ctx, session, csrf, 'passkeys');
    if (!passkeys.enabled) throw new HttpError(404, 'not_found', 'Passkeys are not available on this server.');
    return signedIn.user;
  }

  function notAdded(reason: string): HttpError {
    return new HttpError(400, 'invalid_request', reason, { title: 'Passkey not added' });
  }

  router.post('/account/passkeys/options', formBody, async (ctx) => {
    const user = await passkeyForm(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await passkeys.registrationOptions(user);
  });

  router.post('/account/passkeys', formBody, async (ctx) => {
    const user = await passkeyForm(ctx);
    const count = await passkeys.count(user.id);
    const name = passkeyName(field(ctx.request.body, 'name'), `Passkey ${count + 1}`);
    if (!name) throw notAdded('A passkey name is plain text of at most 64 characters, without control or text-direction characters.');
    const response = parseCredential<RegistrationResponseJSON>(field(ctx.request.body, 'credential'));
    if (!response) throw notAdded('Your browser did not create a passkey. Go back and try again.');
    const added = await passkeys.register(user, response, name, ctx.ip);
    if ('reason' in added) throw notAdded(added.reason);
    setNotice(ctx, 'passkey-added');
    ctx.status = 303;
    ctx.redirect('/account');
  });

  function notRenamed(status: number, reason: string): HttpError {
    return new HttpError(status, status === 404 ? 'not_found' : 'invalid_request', reason, { title: 'Passkey not renamed' });
  }

  router.post('/account/passkeys/rename', formBody, async (ctx) => {
    const user = await passkeyForm(ctx);
    const named = passkeyRename(field(ctx.request.body, 'name'));
    if ('reason' in named) throw notRenamed(400, named.reason);
    // Only the user's own passkey: another account's id is the same refusal as an unknown one.
    const renamed = await passkeys.rename(user.id, field(ctx.request.body, 'id') ?? '', named.name, ctx.ip);
    if (renamed === 'not-found') throw notRenamed(404, 'There is no such passkey on your account. Go back, reload the page and try again.');
    if (renamed === 'renamed') setNotice(ctx, 'passkey-renamed');
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/account/passkeys/remove', formBody, async (ctx) => {
    const user = await passkeyForm(ctx);
    const id = field(ctx.request.body, 'id') ?? '';
    // Every account has a password, so no passkey is the last way to sign in (services/passkeys.ts).
    const removed = await passkeys.remove(user.id, id, ctx.ip);
    if (removed) setNotice(ctx, 'passkey-removed');
    ctx.status = 303;
    ctx.redirect('/account');
  });

  return router;
}
