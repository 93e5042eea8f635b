// When the provider stops an authorization request for a page of ours: its own policy, plus a
// passkey step-up at login and a consent check for clients nobody has verified.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { interactionPolicy } from 'oidc-provider';
import type { ConfigurationDeps } from './configuration.ts';
import { passkeyRequiredCheck } from './passkey-policy.ts';

type Ctx = KoaContextWithOIDC;

/**
 * The provider's interaction policy, plus one consent check: a client nobody has verified
 * (self-registered or metadata-document) gets the consent page on every authorization request,
 * even when everything it asks for was granted before (consent phishing, RFC 9700 §4.11; T28).
 * The grant still loads, so the page shows what was granted as granted and asks only for what
 * is new.
 */
export function interactionPolicyFor(deps: Pick<ConfigurationDeps, 'isVerifiedClient' | 'catalog' | 'accountNeedsPasskey'>) {
  const { isVerifiedClient } = deps;
  const policy = interactionPolicy.base();
  // Step-up to a passkey sign-in when the request needs one (passkey-policy.ts).
  policy.get('login')?.checks.add(passkeyRequiredCheck(deps.catalog, deps.accountNeedsPasskey));
  policy.get('consent')?.checks.add(
    new interactionPolicy.Check('client_not_verified', 'the client is not verified', async (ctx: Ctx) => {
      const { oidc } = ctx;
      if (!oidc.client || oidc.result?.consent) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return (await isVerifiedClient(oidc.client.clientId)) ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}
