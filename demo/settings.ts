// Settings the demo servers share: read from the environment at start-up, each refusal naming
// the variable and what it needs.
import fs from 'node:fs';
import path from 'node:path';

export class StartupError extends Error {}

export function readPort(raw: string | undefined, fallback: number): number {
  const value = raw?.trim() || String(fallback);
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new StartupError(`PORT must be a number from 0 to 65535, got ${JSON.stringify(raw)}`);
  return port;
}

export function readIssuer(raw: string | undefined): string {
  const value = (raw?.trim() || 'http://localhost:3000').replace(/\/+$/, '');
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new StartupError(`ISSUER must be the Latchkey server's http(s) URL (its issuer identifier), got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** A resource identifier: compared byte for byte with the tokens' `aud`, so never normalised (RFC 8707 §2). */
export function readResource(name: string, raw: string | undefined, fallback: string): string {
  const value = raw?.trim() || fallback;
  if (!URL.parse(value) || value.includes('#')) {
    throw new StartupError(`${name} must be an absolute URI without a fragment, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * A resource server's introspection secret: `fromEnv` when set, else the demo seed's entry for
 * `clientId` in demo-credentials.json (written beside KEYS_FILE on the first `npm start`).
 */
export function readSecret(env: NodeJS.ProcessEnv, fromEnv: string | undefined, clientId: string, variable: string): string {
  if (fromEnv?.trim()) return fromEnv.trim();
  const file = path.resolve(path.dirname(env.KEYS_FILE?.trim() || 'data/keys.json'), 'demo-credentials.json');
  let secrets: unknown;
  try {
    secrets = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    secrets = undefined;
  }
  const secret = (secrets as Record<string, unknown> | undefined)?.[clientId];
  if (typeof secret === 'string' && secret) return secret;
  throw new StartupError(
    `no secret for ${clientId}: set ${variable}, or start Latchkey once with the demo seed (npm start) so that ${file} holds it`,
  );
}
