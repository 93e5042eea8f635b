// `npm run bench:sealing`: what sealing costs one stored token on this machine, by itself. The
// payload adapter seals every payload it writes (AES-256-GCM, adapters/at-rest.ts), opens every
// one it reads, and digests every id; the base64url text the sealed value is stored as is timed
// apart, to say what storing raw bytes (BLOB/bytea) instead could save.
import crypto from 'node:crypto';
import { createSealer } from '../adapters/at-rest.ts';

const sealer = createSealer(crypto.randomBytes(32).toString('base64url'));
const id = () => crypto.randomBytes(32).toString('base64url');
// The shape and size of a W3 access token's payload.
const payload = JSON.stringify({
  iat: 1_765_000_000,
  exp: 1_765_000_600,
  accountId: crypto.randomUUID(),
  clientId: 'contacts-reader',
  kind: 'AccessToken',
  jti: id(),
  grantId: id(),
  gty: 'refresh_token',
  scope: 'contacts:read',
  sessionUid: id().slice(0, 21),
  aud: 'https://contacts-api.example',
  extra: {},
  expiresWithSession: false,
});
const ROUNDS = 200_000;

function microseconds(run: () => unknown): number {
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) run();
  return ((performance.now() - started) * 1000) / ROUNDS;
}

for (const round of [1, 2]) {
  const sealed = sealer.seal(payload, 'AccessToken:x');
  const body = sealed.slice(sealer.activePrefix.length);
  const raw = Buffer.from(body, 'base64url');
  const figures = {
    seal: microseconds(() => sealer.seal(payload, 'AccessToken:x')),
    open: microseconds(() => sealer.open(sealed, 'AccessToken:x')),
    digest: microseconds(() => sealer.digest(body.slice(0, 43))),
    'base64url encode': microseconds(() => raw.toString('base64url')),
    'base64url decode': microseconds(() => Buffer.from(body, 'base64url')),
  };
  console.log(
    `round ${round}: payload ${payload.length} B, sealed ${sealed.length} B; ` +
      Object.entries(figures)
        .map(([name, us]) => `${name} ${us.toFixed(2)} µs`)
        .join(', '),
  );
}
