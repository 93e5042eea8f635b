// The order and grouping of a batch of writes to the payload table, and running it.
//
// A batch is the writes of several owners (requests), each owner's writes in order. Statements
// keep their own conditions (tombstone checks, `consumed_at IS NULL`) and run in arrival order,
// so a batch decides exactly what the same statements one by one would have. Consecutive
// upserts, and consecutive consumes, go in one multi-row statement (payload-upsert.ts,
// payload-consume.ts), each row still checked on its own. When no two writes of a batch touch
// the same row (the usual case: every request its own tokens), order cannot change what they
// decide, and the batch runs in waves: every request's consume in one statement, then every
// request's new rows in one. An owner's writes stop at its first refused one.
//
// Where the batch runs (a transaction, one connection, a lone statement) is the writer's
// choice: group-commit.ts.
import type { Knex } from 'knex';
import { consumeStatement, type ConsumeRow } from './payload-consume.ts';
import { REVOKED } from './payload-reader.ts';
import { rowKey, upsertStatement, type UpsertRow } from './payload-upsert.ts';
import type { Execute } from './sqlite-statements.ts';

/** One write: a statement, a row of the payload table's upsert, or a conditional consume. */
export type Write = (
  | { sql: string; bindings: readonly Knex.RawBinding[] }
  | {
      upsert: UpsertRow;
      /** The grant whose tombstone refuses this row (default: its own grant_id). */
      guard?: string | null;
    }
  | { consume: ConsumeRow }
) & {
  /** The error when the write changes no row: a condition refused it (a lost consume, a tombstone). */
  refusal?: () => Error;
};

export type Dialect = 'sqlite' | 'pg';

/** A bound on one multi-row statement: few statement shapes to prepare, modest bindings. */
const MAX_ROWS = 64;

/** What one owner's writes came to: each write's RETURNING rows, or the refusal that stopped them. */
export interface Outcome {
  rows: unknown[][];
  refusal?: Error;
}

type Kind = 'sql' | 'upsert' | 'consume';

function kindOf(write: Write): Kind {
  return 'upsert' in write ? 'upsert' : 'consume' in write ? 'consume' : 'sql';
}

/** The payload row an upsert or consume touches; undefined for a statement. */
function keyOf(write: Write): string | undefined {
  if ('upsert' in write) return rowKey(write.upsert[0], write.upsert[1]);
  if ('consume' in write) return rowKey(write.consume[0], write.consume[1]);
  return undefined;
}

interface Step {
  owner: number;
  write: Write;
}

/** Consecutive steps of one kind that run as one statement. */
export interface Group {
  kind: Kind;
  steps: Step[];
}

/**
 * Whether the owners' writes commute: upserts and consumes only, each touching a row no other
 * write touches, and no tombstone among them (an upsert's guard reads tombstones). Then every
 * order of them decides the same, and they can be run wave by wave.
 */
function commute(owners: ReadonlyArray<readonly Write[]>): boolean {
  const keys = new Set<string>();
  for (const writes of owners) {
    for (const write of writes) {
      const key = keyOf(write);
      if (key === undefined || keys.has(key)) return false;
      if ('upsert' in write && write.upsert[0] === REVOKED) return false;
      keys.add(key);
    }
  }
  return true;
}

/**
 * The steps in the order they run. As they arrived, each owner's writes in turn; or, when the
 * writes commute, in waves: every owner's first run of like writes (a refresh's consume), then
 * every owner's next (its tokens and grace record), so that each wave is a statement or two
 * for the whole batch rather than two per request.
 */
function orderSteps(owners: ReadonlyArray<readonly Write[]>): Step[] {
  if (!commute(owners)) return owners.flatMap((writes, owner) => writes.map((write) => ({ owner, write })));
  const runs = owners.map((writes) => {
    const split: Write[][] = [];
    for (const write of writes) {
      const last = split[split.length - 1];
      if (last && kindOf(last[0] as Write) === kindOf(write)) last.push(write);
      else split.push([write]);
    }
    return split;
  });
  const steps: Step[] = [];
  for (let wave = 0; ; wave += 1) {
    const consumes: Step[] = [];
    const upserts: Step[] = [];
    runs.forEach((ownerRuns, owner) => {
      for (const write of ownerRuns[wave] ?? []) ('consume' in write ? consumes : upserts).push({ owner, write });
    });
    if (consumes.length === 0 && upserts.length === 0) return steps;
    steps.push(...consumes, ...upserts);
  }
}

/**
 * Consecutive upserts, or consecutive consumes, become one statement: distinct rows only (one
 * statement may not touch a row twice), and at most one consume per owner, so that an owner's
 * refused consume still stops what it writes next.
 */
export function plan(owners: ReadonlyArray<readonly Write[]>): Group[] {
  const groups: Group[] = [];
  let current: Group | undefined;
  const keys = new Set<string>();
  const ownersIn = new Set<number>();
  for (const step of orderSteps(owners)) {
    const kind = kindOf(step.write);
    const key = keyOf(step.write);
    const joins =
      current !== undefined &&
      kind !== 'sql' &&
      current.kind === kind &&
      current.steps.length < MAX_ROWS &&
      !keys.has(key as string) &&
      (kind === 'upsert' || !ownersIn.has(step.owner));
    if (!joins) {
      current = { kind, steps: [] };
      groups.push(current);
      keys.clear();
      ownersIn.clear();
    }
    (current as Group).steps.push(step);
    if (key !== undefined) keys.add(key);
    ownersIn.add(step.owner);
  }
  return groups;
}

/** Runs the planned statements in order; an owner's writes stop at its first refusal. */
export async function runPlan(groups: readonly Group[], ownerCount: number, execute: Execute, dialect: Dialect): Promise<Outcome[]> {
  const outcomes: Outcome[] = Array.from({ length: ownerCount }, () => ({ rows: [] }));
  for (const group of groups) {
    const live = group.steps.filter((step) => !outcomes[step.owner]?.refusal);
    if (live.length === 0) continue;
    const first = live[0] as Step;
    if ('sql' in first.write) {
      const outcome = outcomes[first.owner] as Outcome;
      const rows = await execute(first.write.sql, first.write.bindings);
      outcome.rows.push(rows);
      if (rows.length === 0 && first.write.refusal) outcome.refusal = first.write.refusal();
      continue;
    }
    const { sql, bindings } =
      group.kind === 'upsert'
        ? upsertStatement(
            live.map(({ write }) => (write as { upsert: UpsertRow }).upsert),
            live.map(({ write }) => {
              const { upsert, guard } = write as { upsert: UpsertRow; guard?: string | null };
              return guard === undefined ? upsert[3] : guard;
            }),
            dialect,
          )
        : consumeStatement(live.map(({ write }) => (write as { consume: ConsumeRow }).consume));
    const done = new Set((await execute(sql, bindings)).map((row) => rowKey((row as { model: string }).model, (row as { id: string }).id)));
    for (const { owner, write } of live) {
      const outcome = outcomes[owner] as Outcome;
      const [model, id] = 'upsert' in write ? write.upsert : (write as { consume: ConsumeRow }).consume;
      const ok = done.has(rowKey(model, id));
      outcome.rows.push(ok ? [{ model, id }] : []);
      if (!ok && write.refusal && !outcome.refusal) outcome.refusal = write.refusal();
    }
  }
  return outcomes;
}
