// Pins internals/special-use-ip.ts: the deep import still exists and still classifies the
// addresses client-metadata-policy.ts must refuse in a self-registered client's URLs (SSRF,
// T42c). An upgrade that moved or renamed the helper fails the import; one that dropped a
// range from the list fails here instead of quietly letting registrations point inside.
import { describe, expect, it } from 'vitest';
import { isSpecialUseIP } from '../../server/oidc/internals/special-use-ip.ts';

// Hostnames as URL.hostname gives them (IPv6 without brackets), the only form we pass.
const INTERNAL = [
  ['0.0.0.0', 'this host'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private (RFC 1918)'],
  ['172.16.0.1', 'private (RFC 1918)'],
  ['172.31.255.255', 'private (RFC 1918)'],
  ['192.168.1.1', 'private (RFC 1918)'],
  ['100.64.0.1', 'shared address space (CGNAT)'],
  ['169.254.169.254', 'link-local: cloud metadata'],
  ['192.0.2.1', 'documentation'],
  ['198.18.0.1', 'benchmarking'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['fc00::1', 'unique local'],
  ['fd00:ec2::254', 'unique local: cloud metadata'],
  ['fe80::1', 'link-local'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback, dotted'],
  ['64:ff9b::a9fe:a9fe', 'NAT64 of the metadata address'],
  ['2001:db8::1', 'documentation'],
] as const;

const PUBLIC = ['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2001:4860:4860::8888'];

describe('isSpecialUseIP (oidc-provider lib/helpers/fetch_request.js)', () => {
  it('is still a function of one address', () => {
    expect(typeof isSpecialUseIP).toBe('function');
    expect(isSpecialUseIP.length).toBe(1);
  });

  it.each(INTERNAL)('%s (%s) is special-use', (address) => {
    expect(isSpecialUseIP(address)).toBe(true);
  });

  it.each(PUBLIC)('%s is not', (address) => {
    expect(isSpecialUseIP(address)).toBe(false);
  });
});
