// The provider's own list of special-use IP addresses (loopback, private, link-local, cloud
// metadata, documentation, ...), which its fetches refuse to connect to (the SSRF guard of
// `features.clientIdMetadataDocument`). client-metadata-policy.ts refuses the same addresses in
// the URLs a self-registered client asserts, so both rules agree on what is internal.
//
// Relies on (oidc-provider 9.13.3, undocumented; pinned by test/oidc-internals/special-use-ip.test.ts):
// lib/helpers/fetch_request.js exports `isSpecialUseIP(address)` for an IPv4 literal in dotted
// form or an IPv6 literal without brackets, and classifies the addresses listed in that test.
//
// Why not the public API: the list is not exported, and a copy of ours would drift from the
// one the provider's fetches actually enforce.
export { isSpecialUseIP } from 'oidc-provider/lib/helpers/fetch_request.js';
