// The audit trail: who did what to which delegation, and when. Never a secret or token value:
// events carry ids (account, client, grant) and plain facts (scopes, durations, IP address).
import type { Knex } from 'knex';
import type { Logger } from '../log.ts';

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
  | 'logout'
  | 'logout.everywhere'
  | 'registration.created'
  | 'registration.updated'
  | 'registration.deleted';

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

export function createAudit(db: Knex, log: Pick<Logger, 'error'>, now: () => number = Date.now) {
  const pending = new Set<Promise<unknown>>();

  async function write(entry: AuditEntry) {
    await db('audit_events').insert({
      at: now(),
      event: entry.event,
      account_id: entry.accountId ?? null,
      client_id: entry.clientId ?? null,
      grant_id: entry.grantId ?? null,
      actor: entry.actor ?? null,
      ip: entry.ip ?? null,
      details: entry.details ? JSON.stringify(entry.details) : null,
    });
  }

  return {
    /** Writes the event; awaited where the event must be recorded before the user sees the result. */
    record: (entry: AuditEntry) => write(entry),

    /** Writes in the background (hot paths such as token refresh); a failure is logged, never thrown. */
    note(entry: AuditEntry): void {
      const promise = write(entry).catch((error) => log.error(`audit ${entry.event} not recorded`, error));
      pending.add(promise);
      void promise.finally(() => pending.delete(promise));
    },

    /** Resolves once every background write has finished. */
    async idle(): Promise<void> {
      await Promise.all([...pending]);
    },

    async list(filter: { accountId?: string; clientId?: string; limit?: number } = {}): Promise<AuditRecord[]> {
      const query = db<AuditRow>('audit_events').orderBy('id', 'desc').limit(filter.limit ?? 500);
      if (filter.accountId) query.where('account_id', filter.accountId);
      if (filter.clientId) query.where('client_id', filter.clientId);
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
