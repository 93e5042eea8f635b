// Single use of authorization codes and refresh tokens under concurrency and retries.
//
// oidc-provider finds the code/token, checks `consumed`, then consumes: two concurrent requests
// can both pass the check, and a request that sees `consumed` revokes the grant at once, even
// while the first redemption is still writing its tokens. Here the adapter's conditional
// consume is the single source of truth (exactly one winner), and whoever loses it is settled
// in one place, after the winner has finished:
//
// - Authorization code (decision T34): any replay, parallel or sequential, is refused with
//   invalid_grant and revokes the grant, once the first redemption has answered. Exactly one
//   request ever succeeds.
// - Refresh token (decision "refresh grace"): within REFRESH_GRACE_SECONDS of a rotation, the
//   same client presenting the immediately previous token again (multi-tab apps, a lost
//   response) receives the *same* successor pair, at most MAX_GRACE_REPLAYS times. The window
//   is fixed when the token is rotated (retries never extend it), and each replay takes one of
//   MAX_GRACE_REPLAYS insert-only slots, so a burst of parallel retries cannot exceed the cap:
//   retries beyond it are refused (invalid_grant) without ending the grant. After the window, or
//   once the successor itself was used, reuse revokes the grant (T35 and T36 both hold this).
// - `resource` is checked against the refresh token before anything is consumed, so a refused
//   refresh leaves the token usable (the provider checks `scope` before consuming, `resource`
//   after); and only once the token is known to be the presenting client's, so a bad `resource`
//   tells no other client that the token exists.
//
// We wrap the provider's own grant handlers rather than re-implement them; what that relies on
// inside oidc-provider is in ./internals/ (grant-handlers.ts, refresh-token-find.ts).
import Provider, { errors } from 'oidc-provider';
import type { Adapter, AdapterPayload, KoaContextWithOIDC } from 'oidc-provider';
import { presentedRefreshToken, providerGrant, providerValidateGrant, redeemedAuthorizationCode } from './internals/grant-handlers.ts';
import { inspectRefreshTokenLookups } from './internals/refresh-token-find.ts';
import { isAlreadyTaken, isConsumeConflict } from './provider.ts';
import { holdToGrant } from './grant-bound.ts';

/** How long a loser waits for the winning redemption to finish answering. */
const IN_FLIGHT_WAIT_MS = 3000;
const POLL_MS = 20;
export const MAX_GRACE_REPLAYS = 5;

type Ctx = KoaContextWithOIDC;

interface Redemption extends AdapterPayload {
  clientId: string;
  /** The token response, kept (sealed) only for the refresh grace window. */
  response?: Record<string, unknown>;
  /** When the grace window ends (epoch ms), fixed at the rotation. */
  until?: number;
}

interface Consumable {
  grantId?: string;
  consumed?: unknown;
  /** When it had been consumed before this request (epoch s), hidden from the provider's check. */
  consumedBefore?: number;
  resourceIndicators: Set<string>;
  consume(): Promise<void>;
}

/** A code found already used, carried out of the grant handler (and its unit) to be refused. */
class CodeReplay extends Error {
  constructor(
    readonly code: Consumable,
    readonly consumedAt?: number,
  ) {
    super('authorization code already used');
  }
}

export interface SingleUseOptions {
  /** Storage for redemption records (model `Redemption`): id = the code or refresh token. */
  redemptions: Adapter;
  /**
   * Insert-only storage (model `GraceReplay`) for the grace replay slots: a second write of an
   * id fails (isAlreadyTaken), which is what makes the replay cap atomic across requests and
   * instances.
   */
  graceSlots: Adapter;
  graceSeconds: number;
  now?: () => number;
  /**
   * Runs a redemption with its writes (consume, new tokens, redemption or grace record)
   * committed together as one unit (adapters/write-unit.ts); without it, each write commits
   * as it is made.
   */
  oneUnit?: <T>(work: () => Promise<T>) => Promise<T>;
  /** Told when a replay revoked a grant (for the audit trail). */
  onReuse?: (ctx: Ctx, grantId: string, kind: 'authorization code' | 'refresh token') => void;
}

export function installSingleUseGrants(provider: Provider, options: SingleUseOptions): void {
  const now = options.now ?? Date.now;
  const graceMs = options.graceSeconds * 1000;
  const { redemptions } = options;
  const oneUnit = options.oneUnit ?? (<T>(work: () => Promise<T>) => work());

  /**
   * The winner's record, waiting while the winning redemption may still be answering.
   * `consumedAt` (epoch s, when known) bounds the wait: an old consumption is not in flight.
   */
  async function settled(value: string, consumedAt?: number): Promise<Redemption | undefined> {
    const wait = now() + IN_FLIGHT_WAIT_MS;
    const deadline = consumedAt ? Math.min(wait, (consumedAt + 1) * 1000 + IN_FLIGHT_WAIT_MS) : wait;
    for (;;) {
      const found = (await redemptions.find(value)) as Redemption | undefined;
      if (found || now() >= deadline) return found;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async function revoke(ctx: Ctx, grantId: string | undefined, kind: 'authorization code' | 'refresh token') {
    // Destroying the grant tombstones it: every token of the family is dead from now on.
    if (!grantId) return;
    await provider.Grant.adapter.destroy(grantId);
    options.onReuse?.(ctx, grantId, kind);
  }

  // --- authorization code ---------------------------------------------------------------------
  /** A replayed code: once the first redemption has answered, its grant dies and so does this request. */
  async function refuseReplayedCode(ctx: Ctx, code: Consumable | undefined, consumedAt?: number): Promise<never> {
    await settled(String(ctx.oidc.params?.code), consumedAt);
    await revoke(ctx, code?.grantId, 'authorization code');
    throw new errors.InvalidGrant('authorization code already used');
  }

  const codeGrant = providerGrant(provider, 'authorization_code', {
    async consumeGrantSource(_ctx, source) {
      const code = source as Consumable;
      // Found consumed: a replay. Inside a unit the consume below is only queued, so this is
      // where a later replay stops before any token is minted.
      if (code.consumed) throw new CodeReplay(code, Number(code.consumed) || undefined);
      try {
        await code.consume();
      } catch (error) {
        if (!isConsumeConflict(error)) throw error;
        throw new CodeReplay(code);
      }
    },
  });

  async function authorizationCode(ctx: Ctx) {
    try {
      // The code's consume, the tokens and the redemption record commit together: a failure
      // (or a crash) part way leaves the code unused, instead of burnt with no tokens issued.
      await oneUnit(async () => {
        await codeGrant.handle(ctx);
        await redemptions.upsert(String(ctx.oidc.params?.code), { clientId: ctx.oidc.client?.clientId as string }, 120);
      });
    } catch (error) {
      // Refused outside the unit: the grant's revocation must commit, not go down with the unit.
      if (error instanceof CodeReplay) return refuseReplayedCode(ctx, error.code, error.consumedAt);
      if (!isConsumeConflict(error)) throw error;
      // Lost the race at commit to a concurrent redemption of the same code.
      return refuseReplayedCode(ctx, redeemedAuthorizationCode<Consumable>(ctx));
    }
  }

  // --- refresh token --------------------------------------------------------------------------
  // The refresh handler checks `consumed` inline (no helper to swap), so while it runs for the
  // presented token, `find` reports it unconsumed and checks `resource` before any consume.
  /** The token this refresh request presented, for holding it to its grant once that is loaded. */
  const presented = new WeakMap<Ctx, Consumable>();
  const find = inspectRefreshTokenLookups(provider, function checkPresented(found: Consumable | undefined, value: unknown) {
    const ctx = Provider.ctx as Ctx | undefined;
    const params = ctx?.oidc?.params;
    // Another client's token is left to the handler, which refuses it as not found.
    const own = (found as { clientId?: string } | undefined)?.clientId === ctx?.oidc?.client?.clientId;
    if (found && own && ctx?.oidc.route === 'token' && params?.grant_type === 'refresh_token' && params.refresh_token === value) {
      const resource = params.resource as string | string[] | undefined;
      // Every access token has exactly one audience (RFC 9068 §3), and only one it was granted.
      if (Array.isArray(resource) && resource.length !== 1) {
        throw new errors.InvalidTarget('only a single resource indicator value may be requested');
      }
      const requested = Array.isArray(resource) ? resource[0] : resource;
      if (requested !== undefined && !found.resourceIndicators.has(requested)) {
        throw new errors.InvalidTarget('the refresh token was not granted for this resource');
      }
      if (found.consumed) found.consumedBefore = Number(found.consumed);
      delete found.consumed;
      presented.set(ctx, found);
    }
  });
  // The handler loads the grant right after the token: that is where the token is held to what
  // the grant still holds (grant-bound.ts), before its scope is checked or copied to a successor.
  const refreshGrant = providerGrant(provider, 'refresh_token', {
    async validateGrant(ctx, grantId) {
      const grant = await providerValidateGrant(provider, ctx, grantId);
      const token = presented.get(ctx);
      if (token) await holdToGrant(provider, token as never, grant as never);
      return grant;
    },
  });

  /**
   * The same successor pair again for a retry inside the grace window; 'reuse' when this is no
   * retry the window covers (the grant is then revoked); 'exhausted' when every replay slot is
   * taken (refused, the grant lives on).
   */
  async function graceReplay(value: string, clientId: string, consumedBefore?: number): Promise<Record<string, unknown> | 'reuse' | 'exhausted'> {
    const entry = await settled(value, consumedBefore);
    const remainingMs = (entry?.until ?? 0) - now();
    if (!entry?.response || entry.clientId !== clientId || remainingMs <= 0) return 'reuse';
    // Grace covers only the immediately previous token: once the successor was used, this is reuse.
    const successor = await find(String(entry.response.refresh_token));
    if (!successor || successor.consumed) return 'reuse';
    for (let slot = 1; slot <= MAX_GRACE_REPLAYS; slot += 1) {
      try {
        await options.graceSlots.upsert(`${value}#${slot}`, { clientId }, Math.max(1, Math.ceil(remainingMs / 1000)));
        return entry.response;
      } catch (error) {
        if (!isAlreadyTaken(error)) throw error;
      }
    }
    return 'exhausted';
  }

  async function refreshToken(ctx: Ctx) {
    const value = String(ctx.oidc.params?.refresh_token);
    const clientId = ctx.oidc.client?.clientId as string;
    try {
      await oneUnit(async () => {
        await refreshGrant.handle(ctx);
        // Kept for the grace window only (its end fixed now); without grace, just long enough to
        // settle racing losers.
        const response = graceMs > 0 ? (ctx.body as Record<string, unknown>) : undefined;
        const ttl = graceMs > 0 ? options.graceSeconds : Math.ceil(IN_FLIGHT_WAIT_MS / 1000);
        await redemptions.upsert(value, { clientId, response, until: now() + graceMs }, ttl);
      });
    } catch (error) {
      if (!isConsumeConflict(error)) throw error;
      // The presented token: once consumed (in a unit, at its commit) the handler has moved on
      // to the successor as `RefreshToken` and keeps the presented one as `RotatedRefreshToken`.
      const presented = presentedRefreshToken<Consumable>(ctx);
      const replay = await graceReplay(value, clientId, presented?.consumedBefore);
      if (replay === 'exhausted') throw new errors.InvalidGrant('refresh token already used');
      if (replay !== 'reuse') {
        ctx.body = replay;
        return;
      }
      await revoke(ctx, presented?.grantId, 'refresh token');
      throw new errors.InvalidGrant('refresh token already used');
    }
  }

  // `authorization_details` too: RFC 9396 §6.1 lets a token request narrow them (the provider adds
  // it to the grants it registers itself; these replace them).
  const withResource = (parameters: ReadonlySet<string>) => new Set([...parameters, 'resource', 'authorization_details']);
  provider.registerGrantType('authorization_code', authorizationCode, withResource(codeGrant.parameters), 'resource');
  provider.registerGrantType('refresh_token', refreshToken, withResource(refreshGrant.parameters), 'resource');
}
