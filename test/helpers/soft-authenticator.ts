// A WebAuthn authenticator in software, for protocol tests without a browser: an ES256 key pair
// that answers registration and authentication options the way a platform authenticator with
// user verification does (attestation "none"). It can also misbehave on purpose: sign for another
// relying party id or origin, as a phishing site's page would make it. The server's WebAuthn code
// is not mocked; this stands where the user's device would be. (Browser tests use Chromium's
// virtual authenticator instead: test/browser/passkeys.test.ts.)
import crypto from 'node:crypto';

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>;

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 256) return Buffer.from([(major << 5) | 24, length]);
  const b = Buffer.alloc(3);
  b[0] = (major << 5) | 25;
  b.writeUInt16BE(length, 1);
  return b;
}

/** The few CBOR shapes attestation objects and COSE keys use (RFC 8949). */
function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const sha256 = (data: Buffer | string) => crypto.createHash('sha256').update(data).digest();
const b64url = (data: Buffer | Uint8Array) => Buffer.from(data).toString('base64url');

export interface Ceremony {
  /** The relying party id the authenticator signs for (default: the one in the options). */
  rpId?: string;
  /** The origin the "browser" reports (default: the authenticator's). */
  origin?: string;
}

export class SoftAuthenticator {
  readonly credentialId = crypto.randomBytes(16);
  readonly #keys = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  #counter = 0;

  constructor(readonly origin: string) {}

  get id(): string {
    return b64url(this.credentialId);
  }

  #coseKey(): Buffer {
    const jwk = this.#keys.publicKey.export({ format: 'jwk' });
    // kty EC2, alg ES256, crv P-256, x, y (RFC 9053 §7.1.1).
    return cbor(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x as string, 'base64url')], [-3, Buffer.from(jwk.y as string, 'base64url')]]));
  }

  #clientData(type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** navigator.credentials.create() for `options` (PublicKeyCredentialCreationOptionsJSON). */
  register(options: { challenge: string; rp: { id?: string } }, ceremony: Ceremony = {}) {
    const rpId = ceremony.rpId ?? (options.rp.id as string);
    const clientDataJSON = this.#clientData('webauthn.create', options.challenge, ceremony.origin ?? this.origin);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(this.credentialId.length);
    // rpIdHash, flags UP|UV|AT, signCount 0, AAGUID (zeros), credential id, public key (WebAuthn §6.1).
    const authData = Buffer.concat([sha256(rpId), Buffer.from([0x45]), Buffer.alloc(4), Buffer.alloc(16), length, this.credentialId, this.#coseKey()]);
    const attestationObject = cbor(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal'] },
    };
  }

  /** navigator.credentials.get() for `options` (PublicKeyCredentialRequestOptionsJSON). */
  authenticate(options: { challenge: string; rpId?: string }, ceremony: Ceremony = {}) {
    const rpId = ceremony.rpId ?? (options.rpId as string);
    const clientDataJSON = this.#clientData('webauthn.get', options.challenge, ceremony.origin ?? this.origin);
    this.#counter += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.#counter);
    const authenticatorData = Buffer.concat([sha256(rpId), Buffer.from([0x05]), counter]);
    const signature = crypto.sign('sha256', Buffer.concat([authenticatorData, sha256(clientDataJSON)]), this.#keys.privateKey);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authenticatorData), signature: b64url(signature) },
    };
  }
}
