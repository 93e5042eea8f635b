// DPoP proofs (RFC 9449 §4.3, the checks a resource server makes): the request carries a JWT
// signed with the key the access token is bound to, naming this request's method and URL, this
// access token (`ath`), a recent time and an id never used before.
import crypto from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { Refusal } from './errors.ts';
import { ExpiringCache } from './expiring-cache.ts';
import { normaliseHtu } from './urls.ts';

export interface ProofContext {
  method: string;
  url: string;
  accessToken: string;
}

export interface VerifiedProof {
  /** RFC 7638 thumbprint of the proof's key: must equal the token's cnf.jkt. */
  jkt: string;
  /** Remembered once the request is accepted, so the proof cannot be used again. */
  replayKey: string;
  /** Until when (ms) the proof would be accepted, so how long its id must be remembered. */
  acceptedUntil: number;
}

export interface DpopOptions {
  dpopAlgorithms: readonly string[];
  dpopMaxAgeSeconds: number;
  clockToleranceSeconds: number;
  dpopReplayCacheMaxEntries: number;
}

const JWS = /^[\w-]+\.[\w-]+\.[\w-]+$/;
// RFC 7518 §6.2.2, §6.3.2, §6.4: members only a private or symmetric key has.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
// RFC 7638 §3.2: the members a key's thumbprint covers, in lexicographic order, per key type.
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };
/** Imported proof keys, by thumbprint: a client signs every proof with one key, and importing it is most of a check's cost. */
const KEY_CACHE_ENTRIES = 1000;
const KEY_CACHE_MS = 10 * 60 * 1000;

/** RFC 7638 thumbprint (SHA-256) of a public JWK; undefined for a key type proofs cannot use. */
function thumbprintOf(jwk: Record<string, unknown>): string | undefined {
  const members = typeof jwk.kty === 'string' ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (!members || members.some((member) => typeof jwk[member] !== 'string')) return undefined;
  const canonical = JSON.stringify(Object.fromEntries(members.map((member) => [member, jwk[member]])));
  return crypto.createHash('sha256').update(canonical).digest('base64url');
}

function refuse(description: string, cause?: unknown): never {
  throw new Refusal('invalid_dpop_proof', description, { scheme: 'DPoP', cause });
}

function describe(error: unknown): string {
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The DPoP proof is signed with an algorithm this API does not accept';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The DPoP proof signature is invalid';
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'typ') return 'The DPoP proof must have typ dpop+jwt';
  return 'The DPoP proof is malformed';
}

/** The one DPoP header of the request (RFC 9449 §4.3 step 1), or the reason there is none. */
function onlyProof(values: string | readonly string[] | undefined): string {
  const all = values === undefined ? [] : typeof values === 'string' ? [values] : values;
  if (all.length === 0 || all[0] === '') refuse('A DPoP proof is required with the DPoP scheme');
  // Node joins repeated headers it does not know with ", "; a JWS never contains a comma.
  if (all.length > 1 || (all[0] as string).includes(',')) refuse('The request must have exactly one DPoP header');
  return (all[0] as string).trim();
}

export function createDpopVerifier(o: DpopOptions) {
  const seen = new ExpiringCache<true>(o.dpopReplayCacheMaxEntries);
  const keys = new ExpiringCache<crypto.KeyObject>(KEY_CACHE_ENTRIES);

  /** The proof's key, imported once per thumbprint: the same members give the same key. */
  function publicKeyOf(jwk: Record<string, unknown>, jkt: string): crypto.KeyObject {
    const cached = keys.get(jkt);
    if (cached) return cached;
    let key: crypto.KeyObject;
    try {
      key = crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' });
    } catch (error) {
      refuse('The DPoP proof is malformed', error);
    }
    keys.set(jkt, key, Date.now() + KEY_CACHE_MS);
    return key;
  }

  /** Every check that needs no access token claims: run before the token costs a round trip. */
  async function verify(header: string | readonly string[] | undefined, request: ProofContext): Promise<VerifiedProof> {
    const proof = onlyProof(header);
    if (!JWS.test(proof)) refuse('The DPoP proof is not a compact JWS');
    // §4.3 step 7: the key is public. jose's EmbeddedJWK would refuse a private key too, but
    // in words that do not say so; checked first, in plain sight.
    let embedded: unknown;
    try {
      embedded = decodeProtectedHeader(proof).jwk;
    } catch (error) {
      refuse('The DPoP proof is malformed', error);
    }
    if (!embedded || typeof embedded !== 'object' || Array.isArray(embedded)) refuse('The DPoP proof is malformed');
    if (PRIVATE_MEMBERS.some((member) => member in embedded)) refuse('The DPoP proof key must be a public key');
    // §4.3 step 10 binds the proof to its key's thumbprint; the key is checked against the token later.
    const jkt = thumbprintOf(embedded as Record<string, unknown>);
    if (!jkt) refuse('The DPoP proof is malformed');
    let payload: JWTPayload;
    try {
      // The key the header carries (what jose's EmbeddedJWK would use), imported once per key.
      ({ payload } = await jwtVerify(proof, publicKeyOf(embedded as Record<string, unknown>, jkt), { typ: 'dpop+jwt', algorithms: [...o.dpopAlgorithms] }));
    } catch (error) {
      refuse(describe(error), error);
    }

    const { htm, htu, iat, jti, ath } = payload as JWTPayload & { htm?: unknown; htu?: unknown; ath?: unknown };
    if (typeof jti !== 'string' || jti === '' || jti.length > 256) refuse('The DPoP proof needs a jti');
    if (htm !== request.method) refuse('The DPoP proof is for another HTTP method');
    const expected = normaliseHtu(request.url);
    if (typeof htu !== 'string' || expected === undefined || normaliseHtu(htu) !== expected) refuse('The DPoP proof is for another URL');

    // §4.3 step 11 and §11.1: a proof is good for a short time after it was made; the future side
    // only allows for clocks that disagree.
    const now = Date.now() / 1000;
    if (typeof iat !== 'number' || !Number.isFinite(iat)) refuse('The DPoP proof needs an iat');
    if (iat < now - o.dpopMaxAgeSeconds) refuse('The DPoP proof is too old');
    if (iat > now + o.clockToleranceSeconds) refuse('The DPoP proof is dated in the future');

    // §4.3 step 12 and §7: the proof is for this access token, so a stolen proof is no use with another.
    const hash = crypto.createHash('sha256').update(request.accessToken).digest('base64url');
    if (typeof ath !== 'string') refuse('The DPoP proof needs an ath claim for the access token');
    if (ath !== hash) refuse('The DPoP proof is for another access token');

    // jti values are chosen by whoever holds the key, so they are scoped to it.
    const replayKey = crypto.createHash('sha256').update(`${jkt}\n${jti}`).digest('base64url');
    if (seen.get(replayKey) !== undefined) refuse('The DPoP proof has been used before');
    return { jkt, replayKey, acceptedUntil: (iat + o.dpopMaxAgeSeconds + 1) * 1000 };
  }

  /** §11.1: the proof's id is remembered for as long as the proof could be accepted; false for a replay. */
  function remember(proof: VerifiedProof): boolean {
    return seen.addIfAbsent(proof.replayKey, true, proof.acceptedUntil);
  }

  return { verify, remember };
}
