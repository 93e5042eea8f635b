// Passkeys: WebAuthn credentials a user adds on the account page and signs in with
// (@simplewebauthn/server checks the ceremonies). No HTTP here: the routes hand in the browser's
// JSON and get back a result or a reason in plain words.
//
// - The relying party id is the issuer's hostname and the only accepted origin the issuer's
//   origin, so a credential made for another site (another RP id) or an assertion made on
//   another origin is refused (WebAuthn §7.2 steps 9 and 15). Browsers refuse an IP address as
//   an RP id: with such an issuer passkeys are off (`enabled` false) and the pages hide them.
// - Every challenge is single use and bound (adapters/passkey-store.ts): a sign-in's to its
//   interaction, a registration's to its account.
// - User verification is required: a passkey is then a possession and an inherence or
//   knowledge factor at once, which is what lets it stand alone as `urn:latchkey:acr:passkey`.
import net from 'node:net';
import crypto from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { PasskeyStore, StoredPasskey } from '../../adapters/passkey-store.ts';

export type { StoredPasskey };
import { isStorableText } from '../../adapters/storable-text.ts';
import type { Audit } from './audit.ts';
import type { User } from './accounts.ts';

export interface PasskeysDeps {
  store: PasskeyStore;
  audit: Pick<Audit, 'record'>;
  issuer: string;
  /** How long a ceremony may take (s): the interaction's lifetime bounds it anyway. */
  challengeTtl?: number;
  now?: () => number;
}

export interface PasskeySummary {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | undefined;
  /** Synced to the user's other devices by their password manager or platform. */
  backedUp: boolean;
}

export type Verified = { passkey: StoredPasskey; userVerified: boolean } | { reason: string };

/** How long the browser's prompt waits for the user (ms); the challenge itself lives as long as the sign-in. */
const CEREMONY_TIMEOUT_MS = 5 * 60 * 1000;
const MAX_RESPONSE = 16 * 1024;

const MAX_NAME = 64;
/**
 * Characters a name never holds: control characters (C0, DEL, C1), line and paragraph
 * separators, and the bidirectional embeddings, overrides and isolates that would make a name
 * read differently from what it is.
 */
const NOT_IN_A_NAME = /[\p{Cc}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/u;

/** A passkey's new name from the rename form: trimmed, 1 to 64 characters of plain text; or why not. */
export function passkeyRename(name: string | undefined): { name: string } | { reason: string } {
  const text = (name ?? '').trim();
  if (!text) return { reason: 'A passkey needs a name: type one of 1 to 64 characters.' };
  if (!isStorableText(text) || NOT_IN_A_NAME.test(text)) return { reason: 'A passkey name cannot contain control characters (such as line breaks or tabs). Use plain text.' };
  if ([...text].length > MAX_NAME) return { reason: `A passkey name is at most ${MAX_NAME} characters.` };
  return { name: text };
}

/** The name a user gives a passkey when adding it: the same rules as a rename; a default when empty. */
export function passkeyName(name: string | undefined, fallback: string): string | undefined {
  const checked = passkeyRename((name ?? '').trim() || fallback);
  return 'name' in checked ? checked.name : undefined;
}

/** The browser's JSON for a credential, or undefined when it is not one. */
export function parseCredential<T extends RegistrationResponseJSON | AuthenticationResponseJSON>(text: string | undefined): T | undefined {
  if (!text || text.length > MAX_RESPONSE) return undefined;
  try {
    const value = JSON.parse(text) as Partial<T>;
    if (typeof value?.id !== 'string' || typeof value.rawId !== 'string' || value.type !== 'public-key' || typeof value.response !== 'object' || !value.response) return undefined;
    return value as T;
  } catch {
    return undefined;
  }
}

/** Whether passkeys can work for this issuer: browsers refuse an IP address as an RP id. */
export function passkeysPossibleFor(issuer: string): boolean {
  // `new URL` keeps IPv6 literals in brackets.
  return net.isIP(new URL(issuer).hostname.replace(/^\[|\]$/g, '')) === 0;
}

export function createPasskeys(deps: PasskeysDeps) {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const ttlMs = (deps.challengeTtl ?? 300) * 1000;
  const issuer = new URL(deps.issuer);
  const rpID = issuer.hostname;
  const origin = issuer.origin;
  const enabled = passkeysPossibleFor(deps.issuer);

  function summary(passkey: StoredPasskey): PasskeySummary {
    return { id: passkey.id, name: passkey.name, createdAt: passkey.createdAt, lastUsedAt: passkey.lastUsedAt, backedUp: passkey.backedUp };
  }

  /**
   * A fresh challenge, stored for `binding` (base64url, as the browser's clientDataJSON will
   * carry it) before the browser sees it. Given as bytes: a string would be taken as text.
   */
  async function challengeFor(binding: string): Promise<Uint8Array<ArrayBuffer>> {
    const bytes = new Uint8Array(crypto.randomBytes(32));
    await store.addChallenge(Buffer.from(bytes).toString('base64url'), binding, now(), ttlMs);
    return bytes;
  }

  const takes = (binding: string) => (challenge: string) => store.takeChallenge(challenge, binding, now());

  return {
    enabled,
    rpID,

    async list(accountId: string): Promise<PasskeySummary[]> {
      return (await store.forAccount(accountId)).map(summary);
    },

    count: (accountId: string) => store.count(accountId),

    /** Options for `navigator.credentials.create()` on the account page. */
    async registrationOptions(user: User): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await store.forAccount(user.id);
      return generateRegistrationOptions({
        rpName: 'Latchkey',
        rpID,
        userName: user.email,
        userDisplayName: user.name ?? user.email,
        // The user handle is the subject id (a UUID): never an email, which may change.
        userID: new TextEncoder().encode(user.id),
        challenge: await challengeFor(`register:${user.id}`),
        timeout: CEREMONY_TIMEOUT_MS,
        attestationType: 'none',
        // One passkey per authenticator: the browser says so instead of making a duplicate.
        excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports as AuthenticatorTransportFuture[] })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      });
    },

    /** Verifies a registration and keeps the passkey under `name`; audited. */
    async register(user: User, response: RegistrationResponseJSON, name: string, ip?: string): Promise<PasskeySummary | { reason: string }> {
      let verification;
      try {
        verification = await verifyRegistrationResponse({
          response,
          expectedChallenge: takes(`register:${user.id}`),
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: true,
        });
      } catch {
        return { reason: 'The passkey could not be added: the request expired or was not made on this site. Try again.' };
      }
      if (!verification.verified) return { reason: 'The passkey could not be added. Try again.' };
      const { credential, credentialBackedUp } = verification.registrationInfo;
      if (await store.find(credential.id)) return { reason: 'This passkey is already registered.' };
      const passkey = {
        id: credential.id,
        accountId: user.id,
        publicKey: Buffer.from(credential.publicKey).toString('base64url'),
        counter: credential.counter,
        transports: credential.transports ?? [],
        name,
        backedUp: credentialBackedUp,
        createdAt: now(),
      };
      await store.insert(passkey);
      await deps.audit.record({ event: 'passkey.added', accountId: user.id, actor: 'user', ip, details: { name } });
      return summary({ ...passkey, lastUsedAt: undefined });
    },

    /**
     * Options for `navigator.credentials.get()` in the sign-in bound to `binding`; with
     * `accountId` (a second step, a step-up) only that account's passkeys are offered.
     */
    async authenticationOptions(binding: string, accountId?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allow = accountId ? await store.forAccount(accountId) : [];
      return generateAuthenticationOptions({
        rpID,
        challenge: await challengeFor(binding),
        timeout: CEREMONY_TIMEOUT_MS,
        userVerification: 'required',
        ...(accountId ? { allowCredentials: allow.map((p) => ({ id: p.id, transports: p.transports as AuthenticatorTransportFuture[] })) } : {}),
      });
    },

    /** The stored passkey an assertion names (before it is verified: for throttling by account). */
    find: (id: string) => store.find(id),

    /** Checks an assertion against its stored passkey and the challenge of `binding` (used up). */
    async verify(binding: string, response: AuthenticationResponseJSON, passkey: StoredPasskey): Promise<Verified> {
      let verification;
      try {
        verification = await verifyAuthenticationResponse({
          response,
          expectedChallenge: takes(binding),
          expectedOrigin: origin,
          expectedRPID: rpID,
          credential: {
            id: passkey.id,
            publicKey: Buffer.from(passkey.publicKey, 'base64url'),
            counter: passkey.counter,
            transports: passkey.transports as AuthenticatorTransportFuture[],
          },
          requireUserVerification: true,
        });
      } catch (error) {
        return { reason: error instanceof Error ? error.message : 'not verified' };
      }
      if (!verification.verified) return { reason: 'not verified' };
      await store.used(passkey.id, verification.authenticationInfo.newCounter, now());
      return { passkey, userVerified: verification.authenticationInfo.userVerified };
    },

    /**
     * Renames one of the account's passkeys (a name from `passkeyRename`); audited when the name
     * changed. `not-found` when the account has no passkey `id` (another account's included).
     */
    async rename(accountId: string, id: string, name: string, ip?: string): Promise<'renamed' | 'unchanged' | 'not-found'> {
      const passkey = await store.find(id);
      if (!passkey || passkey.accountId !== accountId) return 'not-found';
      if (passkey.name === name) return 'unchanged';
      if (!(await store.rename(accountId, id, name))) return 'not-found';
      await deps.audit.record({ event: 'passkey.renamed', accountId, actor: 'user', ip, details: { name, from: passkey.name } });
      return 'renamed';
    },

    /**
     * Removes one of the account's passkeys; audited. Every account has a password (a users row
     * always has one), so a passkey is never the last way to sign in.
     */
    async remove(accountId: string, id: string, ip?: string): Promise<boolean> {
      const passkey = await store.find(id);
      if (!passkey || passkey.accountId !== accountId) return false;
      const removed = await store.remove(accountId, id);
      if (removed) await deps.audit.record({ event: 'passkey.removed', accountId, actor: 'user', ip, details: { name: passkey.name } });
      return removed;
    },
  };
}

export type Passkeys = ReturnType<typeof createPasskeys>;
