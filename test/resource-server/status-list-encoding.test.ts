// The status list byte array both ways against the test vectors of
// draft-ietf-oauth-status-list-18 (§4.1 examples and Appendix "Test vectors"): Latchkey's encoder
// (server/services/status-lists.ts) and latchkey/resource-server's decoder
// (resource-server/status-list.ts). The bit order is where implementations go wrong (§11.1).
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeStatusList } from '../../server/services/status-lists.ts';
import { decodeStatusList, statusAt } from '../../resource-server/status-list.ts';

// §4.1: 16 tokens, 1 bit each; statuses 1 0 0 1 1 1 0 1 1 1 0 0 0 1 0 1 → bytes b9 a3.
const SIXTEEN = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];

// Appendix: 2^20 entries, 1 bit, and 2 bits; the indexes listed there, every other one 0 (VALID).
const LONG_1_BIT = {
  lst:
    'eNrt3AENwCAMAEGogklACtKQPg9LugC9k_ACvreiogEAAKkeCQAAAAAAAAAAAAAAAAAAAIBylgQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAXG9IAAAAAAAAAPwsJAAAAAAAAAAAAAAAvhsSAAAAAAAAAAAA7KpLAAAAAAAAAAAAAAAAAAAAAJsLCQAAAAAAAAAAADjelAAAAAAAAAAAKjDMAQAAAACAZC8L2AEb',
  set: { 0: 1, 1993: 1, 25460: 1, 159495: 1, 495669: 1, 554353: 1, 645645: 1, 723232: 1, 854545: 1, 934534: 1, 1000345: 1 },
};
const LONG_2_BITS = {
  lst:
    'eNrt2zENACEQAEEuoaBABP5VIO01fCjIHTMStt9ovGVIAAAAAABAbiEBAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEB5WwIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAID0ugQAAAAAAAAAAAAAAAAAQG12SgAAAAAAAAAAAAAAAAAAAAAAAAAAAOCSIQEAAAAAAAAAAAAAAAAAAAAAAAD8ExIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwJEuAQAAAAAAAAAAAAAAAAAAAAAAAMB9SwIAAAAAAAAAAAAAAAAAAACoYUoAAAAAAAAAAAAAAEBqH81gAQw',
  set: { 0: 1, 1993: 2, 25460: 1, 159495: 3, 495669: 1, 554353: 1, 645645: 2, 723232: 1, 854545: 1, 934534: 2, 1000345: 3 },
};

function everyStatus(bits: 1 | 2, lst: string): Map<number, number> {
  const list = decodeStatusList({ bits, lst });
  const found = new Map<number, number>();
  for (let idx = 0; idx < (list.bytes.length * 8) / bits; idx += 1) {
    const value = statusAt(list, idx) as number;
    if (value !== 0) found.set(idx, value);
  }
  return found;
}

describe('the status list byte array (draft-ietf-oauth-status-list §4.1)', () => {
  it('Latchkey encodes the draft\'s 16-token example: ZLIB data that inflates to its bytes b9 a3', () => {
    const recalled = SIXTEEN.flatMap((value, idx) => (value ? [idx] : []));
    const compressed = encodeStatusList(16, recalled);
    // The compressed bytes depend on the compressor's strategy (ours: run-length); the byte array
    // they stand for does not, and any ZLIB inflater reads it.
    expect(zlib.inflateSync(compressed).toString('hex')).toBe('b9a3');
    expect(zlib.inflateSync(Buffer.from('eNrbuRgAAhcBXQ', 'base64url')).toString('hex')).toBe('b9a3');
  });

  it('the resource server reads the 16-token example, and nothing past its end', () => {
    const list = decodeStatusList({ bits: 1, lst: 'eNrbuRgAAhcBXQ' });
    expect(SIXTEEN.map((_, idx) => statusAt(list, idx))).toEqual(SIXTEEN);
    expect(statusAt(list, 16)).toBeUndefined();
  });

  it('the resource server reads the draft\'s 2-bit example (12 tokens, bytes c9 44 f9)', () => {
    const list = decodeStatusList({ bits: 2, lst: 'eNo76fITAAPfAgc' });
    expect(Array.from({ length: 12 }, (_, idx) => statusAt(list, idx))).toEqual([1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]);
  });

  it('the 2^20-entry vectors: exactly the listed statuses, 1 bit and 2 bits', () => {
    expect(Object.fromEntries(everyStatus(1, LONG_1_BIT.lst))).toEqual(Object.fromEntries(Object.entries(LONG_1_BIT.set)));
    expect(Object.fromEntries(everyStatus(2, LONG_2_BITS.lst))).toEqual(Object.fromEntries(Object.entries(LONG_2_BITS.set)));
    // And Latchkey's encoder gives back a list that decodes to the same 1-bit statuses.
    const again = encodeStatusList(2 ** 20, Object.keys(LONG_1_BIT.set).map(Number)).toString('base64url');
    expect(Object.fromEntries(everyStatus(1, again))).toEqual(Object.fromEntries(Object.entries(LONG_1_BIT.set)));
  });

  it('refuses what is not a status list, and a list that would inflate past its bound', () => {
    expect(() => decodeStatusList({ bits: 3, lst: 'eNrbuRgAAhcBXQ' })).toThrow();
    expect(() => decodeStatusList({ bits: 1 })).toThrow();
    const bomb = encodeStatusList(8 * 32 * 1024 * 1024, []).toString('base64url');
    expect(() => decodeStatusList({ bits: 1, lst: bomb })).toThrow();
  });
});
