// Error texts of the provider's that we recognise answers by.
//
// Relies on (oidc-provider 9.13.3, undocumented; pinned by test/oidc-internals/client-auth-messages.test.ts):
// a request to the token, introspection, revocation or pushed authorization request endpoint
// that carries no client authentication at all (no Authorization header, client_id or
// client_assertion) is answered `400 invalid_request` with exactly this description
// (lib/shared/client_auth.js).
//
// Why not the public API: the provider raises the same `InvalidRequest` for other malformed
// client authentication (two mechanisms at once, a bad client_assertion), and no hook runs
// before it answers; telling "none at all" apart otherwise would mean re-implementing its
// parsing of the credentials.
export const NO_CLIENT_AUTHENTICATION = 'no client authentication mechanism provided';
