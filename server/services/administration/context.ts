// What every admin operation stands on, and who is asking (for the audit trail).
import type { Knex } from 'knex';
import type Provider from 'oidc-provider';
import type { Config } from '../../config/env.ts';
import type { KeyMaterial } from '../../config/keys.ts';
import type { ClientStore } from '../../../adapters/client-store.ts';
import type { Accounts } from '../accounts.ts';
import type { Audit, AuditEntry } from '../audit.ts';
import type { Grants } from '../grants.ts';
import type { ResourceCatalog } from '../resources.ts';
import type { ClientAdmin } from '../clients.ts';
import type { ResourceAdmin } from '../resource-admin.ts';
import type { KeyAdmin } from '../key-admin.ts';

/** The operator behind a change: at a shell (CLI) or an admin API client. */
export type Actor = { via: 'cli' } | { via: 'admin_api'; clientId: string; ip?: string | undefined };

export interface AdministrationDeps {
  db: Knex;
  config: Readonly<Config>;
  /** A running server's key material (data keys from KEYS_FILE/LATCHKEY_KEYS); the CLI reads the file afresh. */
  fileKeys?: () => KeyMaterial;
  provider: Provider;
  store: ClientStore;
  catalog: ResourceCatalog;
  accounts: Accounts;
  audit: Audit;
  grants: Grants;
}

export interface Services extends AdministrationDeps {
  clientAdmin: ClientAdmin;
  resourceAdmin: ResourceAdmin;
  keyAdmin: KeyAdmin;
  /** Records an operator's change, with who made it and through what. */
  record(actor: Actor, entry: Omit<AuditEntry, 'actor' | 'ip'>): Promise<void>;
}

/** The audit fields that say which operator channel made a change. */
export function actorDetails(actor: Actor): { ip: string | undefined; details: Record<string, unknown> } {
  return {
    ip: actor.via === 'admin_api' ? actor.ip : undefined,
    details: { via: actor.via, ...(actor.via === 'admin_api' ? { admin_client: actor.clientId } : {}) },
  };
}

export function recorder(audit: Audit) {
  return (actor: Actor, entry: Omit<AuditEntry, 'actor' | 'ip'>) => {
    const { ip, details } = actorDetails(actor);
    return audit.record({ ...entry, actor: 'operator', ip, details: { ...entry.details, ...details } });
  };
}

export const iso = (ms: number) => new Date(ms).toISOString();
