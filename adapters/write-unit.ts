// A request's writes held back and committed together, as one unit (group-commit.ts writeAll).
//
// A refresh writes three times: it consumes the presented token, saves the new tokens and then
// the grace record that lets a retry get the same answer; a code redemption consumes the code,
// saves the tokens and the redemption record. One by one, a crash between them leaves the token
// or code consumed with nothing to show for it (the retry then revokes the grant), and each is
// a commit of its own. Inside a unit the adapter queues them instead, and they are written
// in order in one transaction when the unit ends; the conditional consume still decides the
// winner, at commit, and a loser writes nothing. If the work throws, nothing it wrote is kept.
//
// Only work whose reads come before its writes may run as a unit: a lookup made inside it does
// not see the writes it has queued. The unit belongs to oidc-provider's request (Provider.ctx),
// or in tests to the request opened by withRequestScope.
import type { Write, Writer } from './group-commit.ts';
import { currentRequest } from './request-scope.ts';

const units = new WeakMap<object, Write[]>();

/** The open unit of this request, if any: the adapter queues its writes here. */
export function openUnit(): Write[] | undefined {
  const request = currentRequest();
  return request ? units.get(request) : undefined;
}

/** Runs `work` (inside a request) with its writes committed as one unit. */
export async function asOneUnit<T>(writer: Writer, work: () => Promise<T>): Promise<T> {
  const request = currentRequest();
  if (!request || units.has(request)) return work();
  const writes: Write[] = [];
  units.set(request, writes);
  let result: T;
  try {
    result = await work();
  } finally {
    units.delete(request);
  }
  if (writes.length > 0) await writer.writeAll(guardedByTheirGrant(writes));
  return result;
}

/**
 * Rows of the unit that belong to no grant (the grace record) are guarded by the unit's grant:
 * if it is revoked before the commit, none of the unit's rows is written, not just its tokens.
 */
function guardedByTheirGrant(writes: Write[]): Write[] {
  const grant = writes.map((write) => ('upsert' in write ? write.upsert[3] : null)).find((id) => id !== null);
  if (grant === undefined) return writes;
  return writes.map((write) => ('upsert' in write && write.upsert[3] === null && write.guard === undefined ? { ...write, guard: grant } : write));
}
