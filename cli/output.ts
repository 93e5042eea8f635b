// CLI output: human-readable by default, one JSON document with --json.
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Output {
  json: boolean;
  /** Prints `data` as JSON, or `text` (lines) for people. */
  result(data: unknown, text: string | string[]): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result(data, text) {
      if (json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
      else process.stdout.write(`${Array.isArray(text) ? text.join('\n') : text}\n`);
    },
  };
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()).join('\n');
}
