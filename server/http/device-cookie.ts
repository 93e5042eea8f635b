// The device cookie (OWASP "Slow down online guessing attacks with device cookies"): a browser
// that has signed in to an account carries a long-lived cookie saying so, signed with the cookie
// keys (koa/cookies: signed with the newest, verified with all, so rotation keeps it valid). Login
// back-off treats such a browser apart from everyone else guessing at that account, so a
// stranger's wrong passwords never keep its owner out (security/login-throttle.ts).
//
// It holds a random device id and short digests of the emails signed in from this browser, not
// the emails themselves, and grants nothing on its own: it only decides which budget an attempt
// counts against.
import crypto from 'node:crypto';
import type { Context } from 'koa';

const MAX_ACCOUNTS = 5;
const MAX_AGE_MS = 365 * 24 * 3600 * 1000;
const FORMAT = /^([A-Za-z0-9_-]{22})\.((?:[A-Za-z0-9_-]{22},?){1,5})$/;

export interface DeviceCookie {
  /** The id of this browser when it has signed in to `email` before, otherwise undefined. */
  knownDeviceFor(ctx: Context, email: string): string | undefined;
  /** Records a successful sign-in to `email` from this browser. */
  remember(ctx: Context, email: string): void;
}

function emailDigest(email: string): string {
  return crypto.createHash('sha256').update(`latchkey device ${email}`).digest('base64url').slice(0, 22);
}

export function createDeviceCookie({ secure }: { secure: boolean }): DeviceCookie {
  // __Host-: Secure, Path=/, no Domain (RFC 6265bis §4.1.3.2); only possible over https.
  const name = secure ? '__Host-latchkey.device' : 'latchkey.device';

  function read(ctx: Context): { id: string; emails: string[] } | undefined {
    const value = ctx.cookies.get(name, { signed: true });
    const match = value ? FORMAT.exec(value) : null;
    if (!match) return undefined;
    return { id: match[1] as string, emails: (match[2] as string).split(',').filter(Boolean) };
  }

  return {
    knownDeviceFor(ctx, email) {
      const device = read(ctx);
      return device?.emails.includes(emailDigest(email)) ? device.id : undefined;
    },
    remember(ctx, email) {
      const device = read(ctx) ?? { id: crypto.randomBytes(16).toString('base64url'), emails: [] };
      const digest = emailDigest(email);
      const emails = [digest, ...device.emails.filter((e) => e !== digest)].slice(0, MAX_ACCOUNTS);
      ctx.cookies.set(name, `${device.id}.${emails.join(',')}`, { signed: true, httpOnly: true, sameSite: 'lax', secure, path: '/', maxAge: MAX_AGE_MS, overwrite: true });
    },
  };
}
