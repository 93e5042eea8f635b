// OAuth 2.0 Protected Resource Metadata (RFC 9728): the public document that tells a client
// which authorization server issues tokens for this API and which scopes it knows. Clients find
// it from the `resource_metadata` of a 401 challenge (§5.1) or by building the well-known URL
// from the resource identifier (§3.1), so it is served at both the plain and the path-inserted
// well-known paths.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KoaContextLike } from './respond.ts';
import type { ResolvedOptions } from './options.ts';
import { METADATA_PATH } from './urls.ts';

/** RFC 9728 §2. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  /** Only the Authorization header (RFC 6750 §2.1): never a form body or the query string. */
  bearer_methods_supported: ['header'];
  resource_name?: string;
  dpop_signing_alg_values_supported: string[];
  dpop_bound_access_tokens_required?: true;
}

export interface MetadataEndpoint {
  /** The URL sent as `resource_metadata` in challenges. */
  readonly url: string;
  /** The paths the handlers answer at. */
  readonly paths: readonly string[];
  document(): ProtectedResourceMetadata;
  /** Answers a metadata request and returns true; returns false for any other path. */
  node(req: IncomingMessage, res: ServerResponse): boolean;
  koa(): (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<unknown>;
  express(): (req: IncomingMessage & { originalUrl: string }, res: ServerResponse, next: () => void) => void;
}

export function metadataDocument(o: ResolvedOptions, extra: { resourceName?: string | undefined; scopesSupported: readonly string[] }): ProtectedResourceMetadata {
  return {
    resource: o.resource,
    authorization_servers: [o.issuer],
    ...(extra.scopesSupported.length > 0 ? { scopes_supported: [...extra.scopesSupported] } : {}),
    bearer_methods_supported: ['header'],
    ...(extra.resourceName ? { resource_name: extra.resourceName } : {}),
    dpop_signing_alg_values_supported: [...o.dpopAlgorithms],
    ...(o.dpopRequired ? { dpop_bound_access_tokens_required: true as const } : {}),
  };
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body?: string;
}

// Public metadata that browser-based clients (the MCP Inspector, SPAs) read from other origins:
// any origin may read it, without credentials.
const CORS = { 'access-control-allow-origin': '*' };
// A request header name list (RFC 9110 §5.6.1 #token), echoed in a preflight answer.
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

function answer(method: string, requestedHeaders: string | undefined, document: () => ProtectedResourceMetadata): Answer {
  if (method === 'GET' || method === 'HEAD') {
    return {
      status: 200,
      headers: { ...CORS, 'content-type': 'application/json', 'cache-control': 'public, max-age=300' },
      body: JSON.stringify(document()),
    };
  }
  if (method === 'OPTIONS') {
    // A CORS preflight, e.g. for a client that sends MCP-Protocol-Version with its GET.
    const headers: Record<string, string> = { ...CORS, 'access-control-allow-methods': 'GET, HEAD, OPTIONS', 'access-control-max-age': '86400' };
    if (requestedHeaders && HEADER_LIST.test(requestedHeaders)) headers['access-control-allow-headers'] = requestedHeaders;
    return { status: 204, headers };
  }
  return { status: 405, headers: { ...CORS, allow: 'GET, HEAD, OPTIONS' } };
}

function pathOf(target: string): string {
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

export function createMetadataEndpoint(o: ResolvedOptions, document: () => ProtectedResourceMetadata): MetadataEndpoint {
  const resourcePath = pathOf(o.resourcePath);
  // The plain form, the path-inserted form, and wherever metadataUrl says it is.
  const paths = Object.freeze([...new Set([METADATA_PATH, `${METADATA_PATH}${resourcePath}`, new URL(o.metadataUrl).pathname])]);
  const served = new Set<string>(paths);

  function write(req: IncomingMessage, res: ServerResponse): void {
    const { status, headers, body } = answer(req.method ?? 'GET', req.headers['access-control-request-headers'], document);
    res.writeHead(status, headers);
    res.end(body);
  }

  return {
    url: o.metadataUrl,
    paths,
    document,
    node(req, res) {
      if (!served.has(pathOf(req.url ?? '/'))) return false;
      write(req, res);
      return true;
    },
    koa() {
      return async function protectedResourceMetadata(ctx, next) {
        if (!served.has(ctx.path)) return next();
        const { status, headers, body } = answer(ctx.method, ctx.req.headers['access-control-request-headers'], document);
        ctx.status = status;
        for (const [name, value] of Object.entries(headers)) ctx.set(name, value);
        if (body !== undefined) ctx.body = body;
      };
    },
    express() {
      return function protectedResourceMetadata(req, res, next) {
        if (!served.has(pathOf(req.originalUrl))) return next();
        write(req, res);
      };
    },
  };
}
