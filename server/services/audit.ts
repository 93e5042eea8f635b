// The audit trail: who did what to which delegation, and when. Never a secret or token value:
// events carry ids (account, client, grant) and plain facts (scopes, durations, IP address).
import type { Knex } from 'knex';
import type { Logger } from '../log.ts';
import { isStorableText } from '../../adapters/storable-text.ts';

export type AuditEvent =
  | 'login.success'
  | 'login.failure'
  | 'consent.given'
  | 'consent.denied'
  | 'consent.changed'
  | 'consent.revoked'
  | 'token.issued'
  | 'token.refreshed'
  | 'token.reuse_detected'
  | 'token.exchanged'
  // A user's passkeys (services/passkeys.ts), from the account page.
  | 'passkey.added'
  | 'passkey.removed'
  | 'passkey.renamed'
  | 'logout'
  | 'logout.everywhere'
  | 'registration.created'
  | 'registration.updated'
  | 'registration.deleted'
  // An operator's changes, through the CLI or the admin API (details.via says which).
  | 'user.created'
  | 'user.disabled'
  | 'user.enabled'
  | 'client.created'
  | 'client.removed'
  | 'client.verified'
  | 'client.unverified'
  | 'resource.created'
  | 'resource.updated'
  | 'resource.removed'
  | 'keys.rotated'
  | 'initial_access_token.created';

export interface AuditEntry {
  event: AuditEvent;
  accountId?: string | undefined;
  clientId?: string | undefined;
  grantId?: string | undefined;
  /** Who caused it: `user`, `operator`, `client`, `system`. */
  actor?: string | undefined;
  ip?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

export interface AuditRecord extends Omit<AuditEntry, 'details'> {
  id: number;
  at: number;
  details: Record<string, unknown>;
}

interface AuditRow {
  id: number;
  at: number;
  event: AuditEvent;
  account_id: string | null;
  client_id: string | null;
  grant_id: string | null;
  actor: string | null;
  ip: string | null;
  details: string | null;
}

/** Background events are written together: at most this long after the first one waits. */
const BATCH_MS = 20;
const BATCH_SIZE = 500;

export function createAudit(db: Knex, log: Pick<Logger, 'error'>, now: () => number = Date.now) {
  const pending = new Set<Promise<unknown>>();
  let queue: Array<Record<string, unknown>> = [];
  let timer: NodeJS.Timeout | undefined;

  function row(entry: AuditEntry) {
    return {
      at: now(),
      event: entry.event,
      account_id: entry.accountId ?? null,
      client_id: entry.clientId ?? null,
      grant_id: entry.grantId ?? null,
      actor: entry.actor ?? null,
      ip: entry.ip ?? null,
      details: entry.details ? JSON.stringify(entry.details) : null,
    };
  }

  /** One multi-row insert for everything queued: hot paths (token refresh) pay no statement of their own. */
  function flush() {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0) return;
    const rows = queue;
    queue = [];
    const promise = db('audit_events')
      .insert(rows)
      .catch((error) => log.error(`${rows.length} audit events not recorded`, error));
    pending.add(promise);
    void promise.finally(() => pending.delete(promise));
  }

  return {
    /** Writes the event now; awaited where it must be recorded before the user sees the result. */
    record: async (entry: AuditEntry) => {
      await db('audit_events').insert(row(entry));
    },

    /** Queues the event for the next batch; a failure is logged, never thrown. */
    note(entry: AuditEntry): void {
      queue.push(row(entry));
      if (queue.length >= BATCH_SIZE) flush();
      else timer ??= setTimeout(flush, BATCH_MS);
    },

    /** Resolves once every queued or running background write has finished. */
    async idle(): Promise<void> {
      flush();
      await Promise.all([...pending]);
    },

    /** Newest first; `before` (an event id) pages back through older events. */
    async list(filter: { accountId?: string | undefined; clientId?: string | undefined; event?: string | undefined; before?: number | undefined; limit?: number | undefined } = {}): Promise<AuditRecord[]> {
      // A filter value the database cannot hold matches no event (adapters/storable-text.ts).
      if ([filter.accountId, filter.clientId, filter.event].some((value) => value !== undefined && !isStorableText(value))) return [];
      const query = db<AuditRow>('audit_events').orderBy('id', 'desc').limit(filter.limit ?? 500);
      if (filter.accountId) query.where('account_id', filter.accountId);
      if (filter.clientId) query.where('client_id', filter.clientId);
      if (filter.event) query.where('event', filter.event);
      if (filter.before !== undefined) query.where('id', '<', filter.before);
      return (await query).map((row) => ({
        id: Number(row.id),
        at: Number(row.at),
        event: row.event,
        accountId: row.account_id ?? undefined,
        clientId: row.client_id ?? undefined,
        grantId: row.grant_id ?? undefined,
        actor: row.actor ?? undefined,
        ip: row.ip ?? undefined,
        details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : {},
      }));
    },

    /** When each of an account's clients last got tokens (issued or refreshed). */
    async lastUsed(accountId: string): Promise<Map<string, number>> {
      if (!isStorableText(accountId)) return new Map();
      const rows = (await db('audit_events')
        .select('client_id')
        .max({ at: 'at' })
        .where('account_id', accountId)
        .whereIn('event', ['token.issued', 'token.refreshed'])
        .groupBy('client_id')) as unknown as Array<{ client_id: string; at: number | string }>;
      return new Map(rows.map((row) => [row.client_id, Number(row.at)]));
    },
  };
}

export type Audit = ReturnType<typeof createAudit>;
