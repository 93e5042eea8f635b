// Authorization-detail types (RFC 9396 rich authorization requests) that resource servers
// declare: `latchkey resource add|update … --authorization-detail-type document --schema
// FILE.json --detail-describe "Read and comment on {identifier}"`. The schema is what a requested
// detail must satisfy (JSON Schema, checked with ajv); the description is what the consent page
// says, its `{field}` placeholders filled from the detail and `{actions}` listing the actions in
// plain words. A type belongs to exactly one resource server, so a detail names its API.
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Knex } from 'knex';
import { isStorableText } from '../../adapters/storable-text.ts';
import { ResourceError } from './resources.ts';

export interface AuthorizationDetailType {
  /** The detail's `type` value (RFC 9396 §2). */
  type: string;
  /** JSON Schema every requested detail of this type must satisfy. */
  schema: Record<string, unknown>;
  /** Plain words for the consent page, with `{field}` and `{actions}` placeholders. */
  describe: string;
}

export interface DetailTypeRow {
  type: string;
  resource_id: string;
  schema: string;
  describe: string;
}

// Printable ASCII without quotes, backslash or braces: a type may be a short name or a URI.
const TYPE_NAME = /^[\x21\x23-\x5B\x5D-\x7A\x7C\x7E]{1,100}$/;
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]{0,63})\}/g;
// A schema is configuration an operator wrote, not a document: 64 KiB is plenty.
const MAX_SCHEMA_CHARS = 65_536;

// One validator per schema text: compiling costs far more than validating. Draft-07 unless the
// schema names draft 2020-12 in `$schema`; no remote `$ref` is ever fetched (no loadSchema).
const ajv = new Ajv({ strict: true, allErrors: false });
const ajv2020 = new Ajv2020({ strict: true, allErrors: false });
const DRAFT_2020 = 'https://json-schema.org/draft/2020-12/schema';
const compiled = new Map<string, ValidateFunction>();

function compile(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = (schema.$schema === DRAFT_2020 ? ajv2020 : ajv).compile(schema);
    if (compiled.size > 1000) compiled.clear();
    compiled.set(key, validate);
  }
  return validate;
}

/** Validates a declaration before it is stored; the schema must compile. */
export function checkDetailType(input: { type: string; schema: unknown; describe: string }): AuthorizationDetailType {
  if (!TYPE_NAME.test(input.type)) throw new ResourceError(`invalid authorization detail type ${JSON.stringify(input.type)}: printable characters without quotes, backslashes or braces, at most 100`, 'invalid', 'authorization_detail_types');
  const schema = input.schema;
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) throw new ResourceError('the schema of an authorization detail type must be a JSON object (a JSON Schema)', 'invalid', 'authorization_detail_types');
  const text = JSON.stringify(schema);
  if (text.length > MAX_SCHEMA_CHARS || !isStorableText(text)) throw new ResourceError(`the schema may have at most ${MAX_SCHEMA_CHARS} characters of storable text`, 'invalid', 'authorization_detail_types');
  try {
    compile(schema as Record<string, unknown>);
  } catch (error) {
    throw new ResourceError(`the schema is not a valid JSON Schema: ${(error as Error).message}`, 'invalid', 'authorization_detail_types');
  }
  const describe = input.describe.trim();
  if (!describe || describe.length > 300 || !isStorableText(describe) || /\p{Cc}/u.test(describe)) {
    throw new ResourceError('the detail description must be plain text of 1 to 300 characters', 'invalid', 'authorization_detail_types');
  }
  return { type: input.type, schema: schema as Record<string, unknown>, describe };
}

export async function loadDetailTypes(db: Knex): Promise<Map<string, AuthorizationDetailType[]>> {
  const rows = await db<DetailTypeRow>('resource_detail_types').orderBy('type');
  const byResource = new Map<string, AuthorizationDetailType[]>();
  for (const row of rows) {
    const list = byResource.get(row.resource_id) ?? [];
    list.push({ type: row.type, schema: JSON.parse(row.schema) as Record<string, unknown>, describe: row.describe });
    byResource.set(row.resource_id, list);
  }
  return byResource;
}

/** Declares (or redeclares) a type for a resource server; a type another one owns is a conflict. */
export async function putDetailType(trx: Knex, resourceId: string, definition: AuthorizationDetailType): Promise<void> {
  const owner = await trx<DetailTypeRow>('resource_detail_types').where({ type: definition.type }).first();
  if (owner && owner.resource_id !== resourceId) {
    throw new ResourceError(`authorization detail type ${definition.type} belongs to ${owner.resource_id}`, 'conflict', 'authorization_detail_types');
  }
  const row = { schema: JSON.stringify(definition.schema), describe: definition.describe };
  if (owner) await trx('resource_detail_types').where({ type: definition.type }).update(row);
  else await trx('resource_detail_types').insert({ type: definition.type, resource_id: resourceId, ...row });
}

/** The first reason `detail` does not satisfy its type's schema, or undefined when it does. */
export function schemaProblem(definition: AuthorizationDetailType, detail: unknown): string | undefined {
  const validate = compile(definition.schema);
  if (validate(detail)) return undefined;
  const [first] = validate.errors ?? [];
  return first ? `${first.instancePath || '(the detail)'} ${first.message ?? 'is invalid'}` : 'does not match';
}

/** "read", "read and comment", "read, comment and share". */
export function plainList(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

function asWords(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return plainList(value.map(asWords));
  return '';
}

/** The consent line for one detail: placeholders filled from its fields, `{actions}` in plain words. */
export function describeDetail(definition: AuthorizationDetailType | undefined, detail: Record<string, unknown>): string {
  if (!definition) return `${String(detail.type)}${typeof detail.identifier === 'string' ? ` ${detail.identifier}` : ''}`;
  return definition.describe.replace(PLACEHOLDER, (_match, name: string) => asWords(detail[name]) || `{${name}}`);
}
