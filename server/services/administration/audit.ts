// The audit trail, filtered and paged newest first.
import type { AuditRecord } from '../audit.ts';
import { iso, type Services } from './context.ts';
import type { AuditEvent, AuditPage, AuditQuery, Input, Output } from './schemas.ts';

export function auditView(e: AuditRecord): Output<typeof AuditEvent> {
  return {
    id: e.id,
    at: iso(e.at),
    event: e.event,
    account_id: e.accountId ?? null,
    client_id: e.clientId ?? null,
    grant_id: e.grantId ?? null,
    actor: e.actor ?? null,
    ip: e.ip ?? null,
    details: e.details,
  };
}

export function auditOperations({ audit, accounts }: Services) {
  return {
    async list(query: Input<typeof AuditQuery>): Promise<Output<typeof AuditPage>> {
      // An unknown user has no events (and the answer does not say whether the address exists).
      const user = query.user === undefined ? undefined : await accounts.findByEmail(query.user);
      if (query.user !== undefined && !user) return { events: [], next_cursor: null };
      const events = await audit.list({ accountId: user?.id, clientId: query.client, event: query.event, before: query.before, limit: query.limit });
      return { events: events.map(auditView), next_cursor: events.length === query.limit ? (events.at(-1)?.id ?? null) : null };
    },
  };
}
