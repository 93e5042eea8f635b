// `--authorization-detail-type TYPE --schema FILE.json --detail-describe TEXT` on `resource add`
// and `resource update` (RFC 9396 per-document access, docs/authorization-details.md): the three
// go together, one type per invocation; the schema is read from the file here, checked by the
// server (authorization-detail-types.ts).
import fs from 'node:fs';
import { UsageError } from './output.ts';

type Values = Record<string, string | boolean | string[] | undefined>;

const text = (values: Values, name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);

/** The admin API's `authorization_detail_types` from the flags; undefined when none is given. */
export function detailTypeFlags(values: Values): Array<{ type: string; schema: unknown; describe: string }> | undefined {
  const type = text(values, 'authorization-detail-type');
  if (type === undefined) {
    if (values.schema !== undefined || values['detail-describe'] !== undefined) throw new UsageError('--schema and --detail-describe go with --authorization-detail-type');
    return undefined;
  }
  const file = text(values, 'schema');
  const describe = text(values, 'detail-describe');
  if (!file || !describe) throw new UsageError('--authorization-detail-type needs --schema FILE.json and --detail-describe TEXT');
  let schema: unknown;
  try {
    schema = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`--schema ${file}: not a readable JSON file (${(error as Error).message})`);
  }
  return [{ type, schema, describe }];
}
