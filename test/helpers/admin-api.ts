// A client of the admin API that holds the server to its own OpenAPI document: every answer it
// gets is validated (Ajv, JSON Schema 2020-12, as OpenAPI 3.1 uses) against the schema the
// document gives for that path, method and status, and an undocumented status fails the test.
// It also records which documented answers the run saw, so a test can require all of them.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import * as client from 'openid-client';

interface Operation {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
type Document = { paths: Record<string, Record<string, Operation>>; components?: unknown };

const DOC_ID = 'https://latchkey.test/admin-openapi.json';
const pointer = (...segments: string[]) => segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

export interface AdminAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class AdminApiClient {
  readonly seen = new Set<string>();
  readonly #ajv = new Ajv2020({ strict: false, allErrors: true });
  readonly #document: Document;
  readonly #routes: Array<{ pattern: RegExp; template: string }>;

  constructor(
    readonly issuer: string,
    document: Document,
  ) {
    this.#document = document;
    (addFormats as unknown as (ajv: Ajv2020) => void)(this.#ajv);
    this.#ajv.addSchema({ ...document, $id: DOC_ID });
    this.#routes = Object.keys(document.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
    }));
  }

  static async load(issuer: string): Promise<AdminApiClient> {
    const response = await fetch(`${issuer}/admin/openapi.json`);
    if (response.status !== 200) throw new Error(`openapi.json answered ${response.status}`);
    return new AdminApiClient(issuer, (await response.json()) as Document);
  }

  /** Every documented (operation, status) pair. */
  documented(): string[] {
    return Object.values(this.#document.paths).flatMap((methods) => Object.values(methods).flatMap((op) => Object.keys(op.responses).map((status) => `${op.operationId} ${status}`)));
  }

  async call<T = any>(
    method: string,
    path: string,
    { token, body, rawBody, contentType, query }: { token?: string; body?: unknown; rawBody?: string | Buffer; contentType?: string; query?: Record<string, string | string[]> } = {},
  ): Promise<AdminAnswer<T>> {
    const url = new URL(`/admin/v1${path}`, this.issuer);
    for (const [name, value] of Object.entries(query ?? {})) for (const v of [value].flat()) url.searchParams.append(name, v);
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    const payload = rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
    if (payload !== undefined) headers['content-type'] = contentType ?? 'application/json';
    const response = await fetch(url, { method, headers, body: payload });
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as T) : (undefined as T);
    this.#check(method.toLowerCase(), url.pathname, response.status, parsed);
    return { status: response.status, body: parsed, headers: response.headers };
  }

  #check(method: string, pathname: string, status: number, body: unknown) {
    const route = this.#routes.find((r) => r.pattern.test(pathname) && this.#document.paths[r.template]?.[method]);
    if (!route) {
      // Paths and methods the document does not have must still answer with the error shape.
      if (!(status === 404 || status === 405) || typeof (body as { error?: unknown })?.error !== 'string') throw new Error(`undocumented ${method} ${pathname} answered ${status}`);
      return;
    }
    const operation = this.#document.paths[route.template]?.[method] as Operation;
    const response = operation.responses[String(status)];
    if (!response) throw new Error(`${operation.operationId} answered ${status}, which its document does not list: ${JSON.stringify(body)}`);
    this.seen.add(`${operation.operationId} ${status}`);
    if (!response.content) {
      if (body !== undefined) throw new Error(`${operation.operationId} ${status} has a body its document does not describe`);
      return;
    }
    const ref = `${DOC_ID}#/${pointer('paths', route.template, method, 'responses', String(status), 'content', 'application/json', 'schema')}`;
    const validate = this.#ajv.getSchema(ref) ?? this.#ajv.compile({ $ref: ref });
    if (!validate(body)) throw new Error(`${operation.operationId} ${status} does not match its document: ${this.#ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
  }
}

/** A client-credentials token for the admin API, got with a real OAuth client library. */
export async function adminToken(issuer: string, clientId: string, secret: string, scope = 'latchkey:admin'): Promise<string> {
  const config = await client.discovery(new URL(issuer), clientId, secret, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
  const tokens = await client.clientCredentialsGrant(config, { scope, resource: `${issuer}/admin` });
  return tokens.access_token;
}
