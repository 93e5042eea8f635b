// How a user signed in, as the tokens say it: `amr` (RFC 8176 method references) and `acr` (the
// level, one of ours). A verified passkey (user verification required, services/passkeys.ts) is
// a hardware-bound key unlocked by the user: `hwk` and `user`; with a password before it in the
// same sign-in, `mfa` too. Its level is `urn:latchkey:acr:passkey` whether or not a password came
// first; a password alone is `urn:latchkey:acr:password`.
export const ACR_PASSWORD = 'urn:latchkey:acr:password';
export const ACR_PASSKEY = 'urn:latchkey:acr:passkey';
/** Weakest first: discovery's `acr_values_supported`. */
export const ACR_VALUES = [ACR_PASSWORD, ACR_PASSKEY] as const;

export interface Strength {
  acr: string;
  amr: string[];
}

export function passwordStrength(): Strength {
  return { acr: ACR_PASSWORD, amr: ['pwd'] };
}

/** A passkey, after `earlier` methods of the same session (a password first: a second factor). */
export function passkeyStrength(earlier: readonly string[] = []): Strength {
  const withPassword = earlier.includes('pwd');
  return { acr: ACR_PASSKEY, amr: withPassword ? ['pwd', 'hwk', 'user', 'mfa'] : ['hwk', 'user'] };
}
