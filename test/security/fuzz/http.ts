// Turns a generated RequestSpec into bytes against the live state, and sends it with node:http
// (not fetch: node:http sends the request line as given, so `%zz`, `%00` and `..` reach the
// server undecoded and unnormalised).
import http from 'node:http';
import type { RequestSpec, Param, BodySpec, Target } from './spec.ts';
import type { LiveState } from './live-state.ts';
import { headerSafe, jsonValue, percentEncode, rawQueryText, scalarText, withBadUtf8, type RefName, type Val } from './values.ts';
import { adminRouteOf, servedByAdmin, VICTIM_OF } from './admin-requests.ts';

/** What an Authorization header is to the admin API (live-state.ts `adminCredential`). */
export type AdminCredential = 'admin' | 'read' | 'noscope' | 'revoked' | 'removed' | 'none' | 'other';

/** Facts about a request to a path the admin API answers, for its oracles (checks.ts). */
export interface AdminFacts {
  credential: AdminCredential;
  /** The route the method and path reach, if any. */
  route?: { operationId: string; access: 'read' | 'write' };
  /**
   * No body, or a JSON object or array sent as application/json: a 400 to it can only be the
   * schemas' or the server's refusal of the input, which names the fields.
   */
  readableBody: boolean;
}

export interface ConcreteRequest {
  target: Target;
  method: string;
  /** Path and query as sent. */
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  chunked: boolean;
  /** Bigger than the server's parser limits: a refused or reset connection is acceptable. */
  oversized: boolean;
  /** The signed-in session whose cookie was sent, for learning its logout form value. */
  sessionSlot?: number;
  /** The path is the target endpoint's own route (not `/reg/` with an empty id, say). */
  onEndpoint: boolean;
  /** Set when the path is one the admin API answers (whatever the target). */
  admin?: AdminFacts;
}

export interface Observed {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Set when no complete response arrived. */
  transportError?: string;
  ms: number;
}

const NATURAL_TYPE: Partial<Record<Target, string>> = {
  registration: 'application/json',
  'registration-management': 'application/json',
  admin: 'application/json',
};

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * An admin path with its `{…}` filled in. A write (any method but GET, HEAD, OPTIONS) that names a
 * record the rest of the run stands on goes to a sacrificial record of the same kind instead.
 */
function adminPath(spec: Extract<RequestSpec['path'], { t: 'admin' }>, method: string, live: LiveState): string {
  const { template, id } = spec;
  if (!id) return template;
  const param = /\{(\w+)\}/.exec(template)?.[1] ?? 'id';
  let text = scalarText(id, (ref, slot) => live.resolve(ref, slot));
  if (!SAFE_METHODS.has(method) && (live.isProtectedAdminId(text) || live.isProtectedAdminId(safeDecode(text)))) {
    text = live.resolve(VICTIM_OF[param] ?? 'victim_user_id', id.t === 'ref' ? id.slot : 0);
  }
  const encoded = spec.encoding === 'raw' ? rawQueryText(text).replace(/[?]/g, '%3F') : spec.encoding === 'double' ? percentEncode(percentEncode(text)) : percentEncode(text);
  return template.replace(/\{\w+\}/, () => encoded);
}

/** A body the admin API's parser reads: none, or a JSON object or array sent as application/json. */
function readableJson(body: Buffer | undefined, type: string | undefined): boolean {
  if (body === undefined) return true;
  if (!type || !/^application\/json\s*(;\s*charset=utf-8\s*)?$/i.test(type)) return false;
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null;
  } catch {
    return false;
  }
}

function encodeParams(params: Param[], resolve: (ref: RefName, slot: number) => string): string {
  const parts: string[] = [];
  const enc = (text: string, style: Param['style']) => (style === 'raw' ? rawQueryText(text) : percentEncode(text));
  for (const { name, value, style } of params) {
    if (style === 'bare') {
      parts.push(enc(name, 'plain'));
      continue;
    }
    const add = (key: string, val: Val) => parts.push(`${enc(key, style)}=${enc(scalarText(val, resolve), style)}`);
    if (value.t === 'arr') {
      // Repeated parameter (`a=1&a=2`) or the bracket form some parsers turn into arrays.
      value.items.forEach((item, i) => add(style === 'brackets' ? `${name}[${i}]` : name, item));
    } else if (value.t === 'obj' && style === 'brackets') {
      for (const [key, item] of value.entries) add(`${name}[${key}]`, item);
    } else {
      add(name, value);
    }
  }
  return parts.join('&');
}

function pathSegment(val: Val, resolve: (ref: RefName, slot: number) => string): string {
  return percentEncode(scalarText(val, resolve));
}

function tamper(cookieHeader: string): string {
  // Flip the last character of the first cookie value: the signature no longer matches.
  const eq = cookieHeader.indexOf('=');
  if (eq < 0) return cookieHeader;
  const end = cookieHeader.indexOf(';', eq);
  const at = (end < 0 ? cookieHeader.length : end) - 1;
  if (at <= eq) return cookieHeader;
  const flipped = cookieHeader[at] === 'A' ? 'B' : 'A';
  return `${cookieHeader.slice(0, at)}${flipped}${cookieHeader.slice(at + 1)}`;
}

export function materialize(spec: RequestSpec, live: LiveState): ConcreteRequest {
  const resolve = (ref: RefName, slot: number) => live.resolve(ref, slot);
  let path: string;
  let onEndpoint = true;
  switch (spec.path.t) {
    case 'fixed':
      path = spec.path.path;
      break;
    case 'reg':
      path = `/reg/${pathSegment(spec.path.id, resolve)}`;
      onEndpoint = path !== '/reg/';
      break;
    case 'interaction':
      path = `/interaction/${pathSegment(spec.path.uid, resolve)}${spec.path.action}`;
      break;
    case 'resume':
      path = `/auth/${pathSegment(spec.path.uid, resolve)}`;
      break;
    case 'random':
      path = `/${spec.path.segments.map((s) => rawQueryText(s).replace(/[?]/g, '%3F')).join('/')}`;
      break;
    case 'admin':
      path = adminPath(spec.path, spec.method, live);
      break;
  }
  const pathname = path;
  const query = encodeParams(spec.query, resolve);
  if (query) path += `?${query}`;

  const headers: Record<string, string> = {};
  const { body, type } = encodeBody(spec.body, resolve, NATURAL_TYPE[spec.target] ?? 'application/x-www-form-urlencoded');
  if (spec.contentType === 'auto') {
    if (type) headers['content-type'] = type;
  } else if (spec.contentType !== 'none') {
    headers['content-type'] = headerSafe(spec.contentType);
  }

  const authorization = authHeader(spec, live, resolve);
  if (authorization !== undefined) headers.authorization = authorization;

  let sessionSlot: number | undefined;
  const url = live.url(path.split('?')[0] ?? '/');
  const { cookie } = spec;
  let cookieHeader: string | undefined;
  if (cookie.t === 'interaction') cookieHeader = live.interactionAgent(cookie.slot)?.cookieHeader(url);
  if (cookie.t === 'session') {
    cookieHeader = live.sessionAgent(cookie.slot)?.cookieHeader(url);
    if (!cookie.tamper) sessionSlot = cookie.slot;
  }
  if (cookieHeader && (cookie.t === 'interaction' || cookie.t === 'session') && cookie.tamper) cookieHeader = tamper(cookieHeader);
  if (cookie.t === 'garbage') cookieHeader = headerSafe(cookie.text);
  if (cookieHeader) headers.cookie = cookieHeader;

  if (spec.accept !== undefined) headers.accept = headerSafe(spec.accept);
  for (const [name, value] of spec.headers) headers[name] = headerSafe(value === '{issuer}' ? live.baseUrl : value);

  const headerBytes = Object.values(headers).reduce((n, v) => n + v.length, 0);
  let admin: AdminFacts | undefined;
  if (servedByAdmin(pathname)) {
    const route = adminRouteOf(spec.method, pathname)?.route;
    admin = {
      credential: live.adminCredential(headers.authorization),
      ...(route ? { route: { operationId: route.operationId, access: route.access } } : {}),
      readableBody: readableJson(body, headers['content-type']),
    };
  }
  return {
    target: spec.target,
    method: spec.method,
    path,
    headers,
    body,
    chunked: spec.chunked && body !== undefined,
    oversized: (body?.length ?? 0) > 16 * 1024 || path.length + headerBytes > 8 * 1024,
    sessionSlot,
    onEndpoint,
    ...(admin ? { admin } : {}),
  };
}

function encodeBody(spec: BodySpec, resolve: (ref: RefName, slot: number) => string, natural: string): { body?: Buffer; type?: string } {
  const encoded = encodeBodyText(spec, resolve, natural);
  return encoded.body ? { ...encoded, body: withBadUtf8(encoded.body) } : encoded;
}

function encodeBodyText(spec: BodySpec, resolve: (ref: RefName, slot: number) => string, natural: string): { body?: Buffer; type?: string } {
  switch (spec.t) {
    case 'none':
      return {};
    case 'form':
      return { body: Buffer.from(encodeParams(spec.params, resolve)), type: 'application/x-www-form-urlencoded' };
    case 'json':
      return { body: Buffer.from(JSON.stringify(jsonValue(spec.value, resolve)) ?? 'null'), type: 'application/json' };
    case 'truncated-json':
      return { body: Buffer.from((JSON.stringify(jsonValue(spec.value, resolve)) ?? '').slice(0, spec.cut)), type: 'application/json' };
    case 'text':
      return { body: Buffer.from(spec.text), type: natural };
    case 'big':
      return { body: Buffer.from(scalarText(spec.big, resolve)), type: natural };
    case 'nested': {
      const [open, close] = spec.kind === 'array' ? ['[', ']'] : ['{"a":', '}'];
      return { body: Buffer.from(`${open.repeat(spec.n)}1${close.repeat(spec.n)}`), type: 'application/json' };
    }
  }
}

function authHeader(spec: RequestSpec, live: LiveState, resolve: (ref: RefName, slot: number) => string): string | undefined {
  const { auth } = spec;
  const b64 = (text: string) => withBadUtf8(Buffer.from(text)).toString('base64');
  switch (auth.t) {
    case 'none':
      return undefined;
    case 'basic': {
      const id = scalarText(auth.id, resolve);
      const secret = scalarText(auth.secret, resolve);
      // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
      return `Basic ${b64(auth.urlencode ? `${percentEncode(id)}:${percentEncode(secret)}` : `${id}:${secret}`)}`;
    }
    case 'basic-valid': {
      const id = resolve(auth.client, auth.slot);
      return `Basic ${b64(`${percentEncode(id)}:${percentEncode(live.secretFor(id) ?? '')}`)}`;
    }
    case 'basic-garbage':
      return `Basic ${auth.base64 ? b64(auth.text) : headerSafe(auth.text)}`;
    case 'bearer':
      return headerSafe(`${auth.scheme} ${scalarText(auth.token, resolve)}`);
    case 'raw':
      return headerSafe(auth.text);
  }
}

const MAX_BODY = 256 * 1024;

/** One attempt; a reset on a reused keep-alive socket is retried once (the server may have closed it idle). */
export async function send(base: URL, request: ConcreteRequest, agent: http.Agent, timeoutMs: number): Promise<Observed> {
  const first = await attempt(base, request, agent, timeoutMs);
  if (first.retry) return (await attempt(base, request, agent, timeoutMs)).observed;
  return first.observed;
}

function attempt(base: URL, request: ConcreteRequest, agent: http.Agent, timeoutMs: number): Promise<{ observed: Observed; retry?: boolean }> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (observed: Omit<Observed, 'ms'>, retry = false) => {
      if (settled) return;
      settled = true;
      resolve({ observed: { ...observed, ms: performance.now() - started }, retry });
    };
    const headers: Record<string, string> = { ...request.headers };
    if (request.body !== undefined) {
      if (request.chunked) headers['transfer-encoding'] = 'chunked';
      else headers['content-length'] = String(request.body.length);
    }
    let req: http.ClientRequest;
    try {
      req = http.request({ host: base.hostname, port: base.port, method: request.method, path: request.path, headers, agent, setHost: !('host' in headers) });
    } catch (error) {
      // The client refused to build it (invalid characters): not the server's doing.
      done({ status: 0, headers: {}, body: '', transportError: `client: ${(error as Error).message}` });
      return;
    }
    const timer = setTimeout(() => {
      done({ status: 0, headers: {}, body: '', transportError: `timeout after ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_BODY) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (error) => {
        clearTimeout(timer);
        done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), transportError: `response: ${error.message}` });
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const retry = req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
      done({ status: 0, headers: {}, body: '', transportError: `${error.code ?? 'error'}: ${error.message}` }, retry);
    });
    if (request.body !== undefined && request.chunked) {
      req.write(request.body);
      req.end();
    } else {
      req.end(request.body);
    }
  });
}
