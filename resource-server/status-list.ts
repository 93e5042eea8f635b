// Recalled JWT access tokens: the status list check (draft-ietf-oauth-status-list-18 §8.3).
//
// A Latchkey JWT access token issued under a grant names an index in its resource server's
// status list (`status.status_list.{idx, uri}`); when the grant is revoked or narrowed, Latchkey
// sets the token's bit. The list is a JWT (`typ` statuslist+jwt) signed with the issuer's keys,
// fetched from `uri` and kept for its `ttl` (30 s unless the list says otherwise): a recall is
// seen within one ttl. Past the ttl the copy in hand keeps answering while a fresh one is
// fetched in the background, so a request never waits for the issuer except for the first list
// and after the list's `exp`.
//
// Fail-closed, after a grace: when the issuer cannot be reached, the copy in hand is used until
// its `exp` (Latchkey sets it two ttls after issuing the list), then tokens pointing into that
// list are answered 503 until a fresh one arrives. A recall is thus seen within two ttls at
// worst while the issuer is unreachable, never later.
//
// A copy fetched before the token was issued cannot speak for it: an index past its end belongs
// to a block leased since, and a set bit may be a previous holder's (Latchkey reuses an index
// once every token that held it has expired). Either answer sends for a fresh list first.
import zlib from 'node:zlib';
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { unavailable } from './authorization-server.ts';
import { Refusal } from './errors.ts';
import type { ResolvedOptions } from './options.ts';

const MEDIA_TYPE = 'application/statuslist+jwt';
/** §5.1 recommends a ttl; without one, this (s). */
const DEFAULT_TTL = 30;
/** §11.5: bound what the list asks for, in both directions (s). */
const TTL_RANGE = { min: 1, max: 3600 };
/** A failed background refresh is not tried again sooner than this (ms). */
const RETRY_MS = 1000;
/** Lists kept (an API sees one per audience, so one in practice). */
const MAX_LISTS = 64;
/** A bound on a decompressed list: 2^27 tokens at one bit each. */
const MAX_LIST_BYTES = 16 * 1024 * 1024;

/** A decoded status list (§4.2): `bits` per token, packed from the least significant bit. */
export interface DecodedStatusList {
  bits: 1 | 2 | 4 | 8;
  bytes: Uint8Array;
}

interface List extends DecodedStatusList {
  /** Its `iat` (s, the issuer's clock, as the tokens' `iat`). */
  issuedAt: number;
  /** When to fetch a fresh one (epoch ms). */
  refreshAt: number;
  /** Past this (epoch ms) it must not be used (its `exp`, plus the clock tolerance). */
  usableUntil: number;
}

interface Reference {
  idx: number;
  uri: string;
}

/** The token's status list reference (§6.1); undefined when it has no `status` claim. */
function referenceOf(status: unknown, issuer: string): Reference | undefined {
  if (status === undefined) return undefined;
  const list = (status as { status_list?: { idx?: unknown; uri?: unknown } } | null)?.status_list;
  const { idx, uri } = list ?? {};
  if (typeof idx !== 'number' || !Number.isSafeInteger(idx) || idx < 0 || typeof uri !== 'string') {
    throw new Refusal('invalid_token', 'The access token has an invalid status claim');
  }
  // Only the issuer's own lists: a token cannot send this API to fetch from anywhere else.
  const base = issuer.endsWith('/') ? issuer : `${issuer}/`;
  if (!uri.startsWith(base) || URL.parse(uri)?.origin !== URL.parse(issuer)?.origin) {
    throw new Refusal('invalid_token', 'The access token names a status list of another server');
  }
  return { idx, uri };
}

/** The status at `idx` (§4.1: `bits` per token, from the least significant bit), or undefined past the end. */
export function statusAt(list: DecodedStatusList, idx: number): number | undefined {
  const bit = idx * list.bits;
  const byte = list.bytes[bit >> 3];
  if (byte === undefined) return undefined;
  return (byte >> (bit & 7)) & ((1 << list.bits) - 1);
}

/** The `status_list` claim (§4.2) decoded: its `lst` base64url-decoded and inflated (ZLIB, §4.1). */
export function decodeStatusList(claim: unknown): DecodedStatusList {
  const { bits, lst } = (claim ?? {}) as { bits?: unknown; lst?: unknown };
  if ((bits !== 1 && bits !== 2 && bits !== 4 && bits !== 8) || typeof lst !== 'string') throw new Error('no valid status_list claim');
  return { bits, bytes: zlib.inflateSync(Buffer.from(lst, 'base64url'), { maxOutputLength: MAX_LIST_BYTES }) };
}

function listOf(payload: JWTPayload, fetchedAt: number, clockToleranceSeconds: number): List {
  const { bits, bytes } = decodeStatusList(payload.status_list);
  const ttl = typeof payload.ttl === 'number' && payload.ttl > 0 ? Math.min(Math.max(payload.ttl, TTL_RANGE.min), TTL_RANGE.max) : DEFAULT_TTL;
  const usableUntil = typeof payload.exp === 'number' ? (payload.exp + clockToleranceSeconds) * 1000 : Infinity;
  return { bits, bytes, issuedAt: payload.iat as number, refreshAt: fetchedAt + ttl * 1000, usableUntil };
}

/** Checks `status` of a verified JWT access token issued at `iat` (s); throws a Refusal for a recalled one. */
export function createStatusListCheck(o: ResolvedOptions, keys: JWTVerifyGetKey): (status: unknown, iat: number) => Promise<void> {
  const lists = new Map<string, List>();
  const flights = new Map<string, { startedAt: number; list: Promise<List> }>();

  async function fetchList(uri: string, startedAt: number): Promise<List> {
    let response: Response;
    try {
      // Latchkey never redirects here; following one could fetch a list from elsewhere.
      response = await fetch(uri, { headers: { accept: MEDIA_TYPE }, signal: AbortSignal.timeout(o.timeoutMs), redirect: 'error' });
    } catch (error) {
      throw unavailable(`status list: ${uri} could not be reached`, error);
    }
    const type = response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (response.status !== 200 || type !== MEDIA_TYPE) {
      await response.body?.cancel().catch(() => undefined);
      throw unavailable(`status list: ${uri} answered ${response.status} ${type ?? ''}`.trim());
    }
    try {
      const { payload } = await jwtVerify(await response.text(), keys, {
        issuer: o.issuer,
        // §5.1: the list's `sub` is the very URI the token names.
        subject: uri,
        typ: 'statuslist+jwt',
        algorithms: [...o.jwtAlgorithms],
        requiredClaims: ['iat', 'sub'],
        clockTolerance: o.clockToleranceSeconds,
      });
      return listOf(payload, startedAt, o.clockToleranceSeconds);
    } catch (error) {
      if (error instanceof Refusal) throw error;
      throw unavailable(`status list: ${uri} is not a valid status list token`, error);
    }
  }

  /** A list whose fetch started at or after `notBefore` (epoch ms): the one in flight, or a new fetch. */
  function fresh(uri: string, notBefore: number): Promise<List> {
    const flight = flights.get(uri);
    if (flight && flight.startedAt >= notBefore) return flight.list;
    const startedAt = Date.now();
    const list = fetchList(uri, startedAt).then((got) => {
      lists.delete(uri);
      if (lists.size >= MAX_LISTS) lists.delete(lists.keys().next().value as string);
      lists.set(uri, got);
      return got;
    });
    flights.set(uri, { startedAt, list });
    void list.then(
      () => flights.get(uri)?.list === list && flights.delete(uri),
      () => flights.get(uri)?.list === list && flights.delete(uri),
    );
    return list;
  }

  /** The list to answer from now: the copy in hand while usable (refreshed in the background past its ttl). */
  async function current(uri: string, now: number): Promise<List> {
    const held = lists.get(uri);
    if (!held || now >= held.usableUntil) return fresh(uri, 0);
    if (now >= held.refreshAt && !flights.has(uri)) {
      fresh(uri, 0).catch(() => {
        // Keep answering from the copy in hand (until its exp); try again in a moment.
        held.refreshAt = Date.now() + RETRY_MS;
      });
    }
    return held;
  }

  return async function checkStatus(status, iat) {
    const reference = referenceOf(status, o.issuer);
    if (!reference) return;
    const arrived = Date.now();
    let list = await current(reference.uri, arrived);
    let value = statusAt(list, reference.idx);
    // Could the list predate the token, allowing for the issuer instances' clocks and a commit?
    if (value !== 0 && list.issuedAt <= iat + o.clockToleranceSeconds + 1) {
      list = await fresh(reference.uri, arrived);
      value = statusAt(list, reference.idx);
    }
    // §8.3 step 6: an index outside the list allows no statement about the token.
    if (value === undefined) throw new Refusal('invalid_token', 'The access token points outside its status list');
    if (value !== 0) throw new Refusal('invalid_token', 'The access token has been revoked');
  };
}
