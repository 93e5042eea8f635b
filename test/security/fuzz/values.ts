// Value-level generators for the fuzzer. A generated value is a small symbolic description
// (`Val`), not the final bytes: oversized values are a length to build at send time (so
// fast-check never generates or shrinks 200 KB strings), and valid values are references (`ref`)
// resolved against the running server's live state when the request is sent (client ids and
// tokens differ from run to run; the generated sequence for a seed does not).
import fc from 'fast-check';

/** Names of valid values the live state can supply (see live-state.ts). */
export type RefName =
  | 'client_id'
  | 'client_secret'
  | 'public_client_id'
  | 'service_client_id'
  | 'rs_client_id'
  | 'dyn_client_id'
  | 'redirect_uri'
  | 'other_redirect_uri'
  | 'resource'
  | 'other_resource'
  | 'scope'
  | 'code_challenge'
  | 'code_verifier'
  | 'code'
  | 'access_token'
  | 'refresh_token'
  | 'id_token'
  | 'client_credentials_token'
  | 'userinfo_token'
  | 'initial_access_token'
  | 'registration_access_token'
  | 'interaction_uid'
  | 'csrf'
  | 'logout_xsrf'
  | 'email'
  | 'password'
  | 'issuer'
  // The admin API (admin-requests.ts): its tokens, by what they may do...
  | 'admin_token'
  | 'admin_read_token'
  | 'admin_noscope_token'
  | 'admin_revoked_token'
  | 'admin_removed_token'
  // ...and what its paths and filters name: real records, and sacrificial ones the fuzzer may
  // change or remove (the live state re-creates them).
  | 'admin_client_id'
  | 'admin_resource_id'
  | 'user_id'
  | 'victim_user_id'
  | 'victim_client_id'
  | 'victim_resource'
  | 'victim_grant_id';

export type Val =
  | { t: 'lit'; v: string }
  /** `n` repetitions of `ch`: oversized values, built at send time. */
  | { t: 'big'; ch: string; n: number }
  /** A valid value from the live state; `slot` picks one of several (interactions, tokens). */
  | { t: 'ref'; ref: RefName; slot: number }
  | { t: 'num'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'null' }
  | { t: 'arr'; items: Val[] }
  | { t: 'obj'; entries: Array<[string, Val]> }
  /**
   * A value with a byte PostgreSQL or UTF-8 refuses put into it: a NUL, a lone surrogate, or
   * bytes that are not UTF-8 (see BAD_UTF8). Mostly applied to valid values (a real client id,
   * email or token with one bad byte), which is what reaches the database's lookups.
   */
  | { t: 'taint'; base: Val; mark: TaintMark; at: 'start' | 'middle' | 'end' };

export type TaintMark = 'nul' | 'surrogate' | 'bad-utf8';

/**
 * Stands for bytes that are not UTF-8 (0xFF 0xFE) until the request is encoded: percent-encoding
 * writes `%FF%FE` for it, and raw bodies and credentials get the two bytes themselves
 * (`withBadUtf8`). A private-use character, so a generated string almost never holds it by chance
 * (and if one does, it is one more invalid byte sequence).
 */
export const BAD_UTF8 = '\uf8ff';
const BAD_UTF8_BYTES = Buffer.from(BAD_UTF8, 'utf8');

/** Replaces every BAD_UTF8 in an encoded body or credential with the raw bytes 0xFF 0xFE. */
export function withBadUtf8(buffer: Buffer): Buffer {
  if (buffer.indexOf(BAD_UTF8_BYTES) < 0) return buffer;
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = buffer.indexOf(BAD_UTF8_BYTES); at >= 0; at = buffer.indexOf(BAD_UTF8_BYTES, from)) {
    parts.push(buffer.subarray(from, at), Buffer.from([0xff, 0xfe]));
    from = at + BAD_UTF8_BYTES.length;
  }
  parts.push(buffer.subarray(from));
  return Buffer.concat(parts);
}

const MARK_TEXT: Record<TaintMark, string> = { nul: '\u0000', surrogate: '\ud800', 'bad-utf8': BAD_UTF8 };

/** Marker the HTML oracle looks for: it must never come back unescaped in a page. */
export const MARKUP_MARKER = '<fz-x7 q="1">';

const lit = (v: string): Val => ({ t: 'lit', v });

/** Strings that have broken parsers and validators elsewhere. */
const HOSTILE = [
  '',
  ' ',
  '  ',
  '\u0000',
  'a\u0000b',
  '\t',
  '\r\n',
  '%',
  '%%',
  '%zz',
  '%0',
  '%00',
  '%c3%28',
  '%ff%fe',
  '%u0000',
  '%252e%252e%252f',
  '%2e%2e%2f%2e%2e%2f',
  '+',
  '&',
  '=',
  '&=&=',
  ';',
  '#',
  '?',
  '/',
  '\\',
  '..',
  '../../etc/passwd',
  '..;/',
  'null',
  'undefined',
  'true',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '9007199254740993',
  '0x10',
  '[]',
  '{}',
  '[object Object]',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'valueOf',
  "' OR '1'='1",
  '"; DROP TABLE oidc_payloads; --',
  '${7*7}',
  '{{7*7}}',
  '<%= 7*7 %>',
  MARKUP_MARKER,
  `"><script>x</script>${MARKUP_MARKER}`,
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  'data:text/html,<b>x</b>',
  'file:///etc/passwd',
  'https://evil.example/cb',
  'https://evil.example@127.0.0.1:9999/cb',
  'http://127.0.0.1:9999/cb/..;/x',
  'http://127.0.0.1:9999/cb#frag',
  'http://127.0.0.1:9999/cb?code=x',
  'http://169.254.169.254/latest/meta-data/',
  'https://[::1]/x',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
  'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
  'eyJhbGciOiJIUzI1NiJ9.e30.ZmFrZQ',
  'a.b.c',
  'a.b',
  '....',
  'Basic',
  'Bearer',
  '\u00e9\u00e8',
  '\u202e\u202d',
  '\ufeff',
  '\ud83d\ude00',
  '\ud800',
  '\udfff',
  '\u2028\u2029',
  'ｏｐｅｎｉｄ',
  'openid\u0000contacts:read',
  'openid openid openid',
  'contacts:read contacts:write calendar:read',
  'offline_access',
  'openid%20contacts:read',
];

const CONTROL = fc.string({ unit: fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c)), maxLength: 8 });
const PERCENT = fc
  .array(fc.constantFrom('%', '%2', '%25', '%00', '%0a', '%zz', '%C0%AF', '%e2%80%ae', 'a', '/', '.', '%2F', '%5c'), { minLength: 1, maxLength: 6 })
  .map((parts) => parts.join(''));

/** Any small string: ASCII, full Unicode (lone surrogates included), control characters, `%` soup, hostile constants. */
export const smallString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 24 }), weight: 4 },
  // Any code point, lone surrogates included. (Built from integers: `fc.string({ unit: 'binary' })`
  // takes seconds to construct.)
  { arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp)), maxLength: 16 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }), weight: 1 },
  { arbitrary: CONTROL, weight: 1 },
  { arbitrary: PERCENT, weight: 1 },
  { arbitrary: fc.constantFrom(...HOSTILE), weight: 5 },
);

/** Oversized: from a few KB to ~200 KB. Rare, so a run stays fast. */
export const bigVal: fc.Arbitrary<Val> = fc.record({
  t: fc.constant('big' as const),
  ch: fc.constantFrom('a', 'A', '%', '\u00e9', ' ', 'x ', '%00', '&a=', '\u0000', '\ud83d\ude00'),
  n: fc.oneof(fc.integer({ min: 1_000, max: 20_000 }), fc.integer({ min: 20_000, max: 200_000 })),
});

export const refVal = (...refs: RefName[]): fc.Arbitrary<Val> =>
  fc.record({ t: fc.constant('ref' as const), ref: fc.constantFrom(...refs), slot: fc.nat(7) });

const litVal: fc.Arbitrary<Val> = smallString.map(lit);

const scalarVal: fc.Arbitrary<Val> = fc.oneof(
  { arbitrary: litVal, weight: 10 },
  { arbitrary: fc.oneof(fc.integer(), fc.double()).map((v): Val => ({ t: 'num', v })), weight: 1 },
  { arbitrary: fc.boolean().map((v): Val => ({ t: 'bool', v })), weight: 1 },
  { arbitrary: fc.constant<Val>({ t: 'null' }), weight: 1 },
);

/** A wrongly typed value: an array, an object, nested structures. */
export const structuredVal: fc.Arbitrary<Val> = fc.letrec<{ v: Val }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarVal,
    fc.array(tie('v'), { maxLength: 3 }).map((items): Val => ({ t: 'arr', items })),
    fc.array(fc.tuple(fc.oneof(smallString, fc.constantFrom('__proto__', 'constructor', 'error')), tie('v')), { maxLength: 3 }).map(
      (entries): Val => ({ t: 'obj', entries }),
    ),
  ),
})).v;

/**
 * A parameter value: mostly the given valid references and small hostile strings, sometimes a
 * wrong type or an oversized value.
 */
export function paramVal(refs: RefName[] = [], good: string[] = []): fc.Arbitrary<Val> {
  // About one value in a hundred is oversized: a request has several parameters, and most
  // cases should stay small so that a run is fast.
  const options: Array<fc.WeightedArbitrary<Val>> = [
    { arbitrary: litVal, weight: 60 },
    { arbitrary: structuredVal, weight: 10 },
    { arbitrary: bigVal, weight: 2 },
  ];
  const valid: Array<fc.Arbitrary<Val>> = [];
  if (refs.length) {
    options.push({ arbitrary: refVal(...refs), weight: 80 });
    valid.push(refVal(...refs));
  }
  if (good.length) {
    options.push({ arbitrary: fc.constantFrom(...good).map(lit), weight: 50 });
    valid.push(fc.constantFrom(...good).map(lit));
  }
  // A valid value with one bad byte in it: the kind of value that gets past the parsers to a
  // database lookup (PostgreSQL answers a NUL with an error where SQLite finds nothing).
  options.push({ arbitrary: tainted(valid.length ? fc.oneof(...valid) : litVal), weight: valid.length ? 20 : 5 });
  return fc.oneof(...options);
}

/** `base` with a NUL, a lone surrogate or non-UTF-8 bytes at its start, middle or end. */
export function tainted(base: fc.Arbitrary<Val>): fc.Arbitrary<Val> {
  return fc.record({
    t: fc.constant('taint' as const),
    base,
    mark: fc.constantFrom<TaintMark>('nul', 'surrogate', 'bad-utf8'),
    at: fc.constantFrom('start' as const, 'middle' as const, 'end' as const),
  });
}

/** Builds the string form of a scalar or oversized value. Structured values are handled by the encoders. */
export function scalarText(val: Val, resolve: (ref: RefName, slot: number) => string): string {
  switch (val.t) {
    case 'lit':
      return val.v;
    case 'big':
      return val.ch.repeat(Math.ceil(val.n / val.ch.length)).slice(0, val.n);
    case 'ref':
      return resolve(val.ref, val.slot);
    case 'num':
      return String(val.v);
    case 'bool':
      return String(val.v);
    case 'null':
      return '';
    case 'arr':
      return val.items.map((item) => scalarText(item, resolve)).join(',');
    case 'obj':
      return '[object Object]';
    case 'taint': {
      const text = scalarText(val.base, resolve);
      const mark = MARK_TEXT[val.mark];
      if (val.at === 'start') return `${mark}${text}`;
      if (val.at === 'end') return `${text}${mark}`;
      const half = Math.floor(text.length / 2);
      return `${text.slice(0, half)}${mark}${text.slice(half)}`;
    }
  }
}

/** The JSON form of a value (for JSON bodies). */
export function jsonValue(val: Val, resolve: (ref: RefName, slot: number) => string): unknown {
  switch (val.t) {
    case 'arr':
      return val.items.map((item) => jsonValue(item, resolve));
    case 'obj': {
      // defineProperty: a `__proto__` key must become an own property, as a JSON parser would make it.
      const out: Record<string, unknown> = {};
      for (const [key, item] of val.entries) {
        Object.defineProperty(out, key, { value: jsonValue(item, resolve), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    case 'num':
      return Number.isFinite(val.v) ? val.v : String(val.v);
    case 'bool':
      return val.v;
    case 'null':
      return null;
    default:
      return scalarText(val, resolve);
  }
}

/**
 * Percent-encodes the UTF-8 bytes of a string (lone surrogates become U+FFFD, as a browser
 * would send them); `encodeURIComponent` would throw on them.
 */
export function percentEncode(text: string): string {
  let out = '';
  for (const byte of withBadUtf8(Buffer.from(text, 'utf8'))) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Leaves a string as raw as Node's HTTP client lets it go on the request line: printable ASCII
 * and `%` sequences stay as they are (so `%zz` and `%00` reach the server's decoder), the rest is
 * percent-encoded.
 */
export function rawQueryText(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    out += code > 0x20 && code < 0x7f && ch !== '#' ? ch : percentEncode(ch);
  }
  return out;
}

/** A header value Node will send: latin-1 printable only (no CR, LF, NUL), the rest dropped. */
export function headerSafe(text: string): string {
  return [...text].filter((ch) => /[\t\x20-\x7e\x80-\xff]/.test(ch)).join('');
}
