// The operator's service layer, shared by the CLI and the admin API so they cannot disagree:
// each operation takes input already checked against its schema (schemas.ts), says who asks
// (for the audit trail), and answers with the JSON both print. Refusals are ServiceErrors.
import { createClientAdmin } from '../clients.ts';
import { createResourceAdmin } from '../resource-admin.ts';
import { createKeyAdmin } from '../key-admin.ts';
import { adminResourceId } from '../admin-resource.ts';
import { recorder, type AdministrationDeps, type Services } from './context.ts';
import { userOperations } from './users.ts';
import { clientOperations } from './clients.ts';
import { resourceOperations } from './resources.ts';
import { grantOperations } from './grants.ts';
import { credentialOperations } from './credentials.ts';
import { auditOperations } from './audit.ts';

export type { Actor, AdministrationDeps } from './context.ts';

export function createAdministration(deps: AdministrationDeps) {
  const { db, config, provider, store, catalog } = deps;
  const validate = async (metadata: Record<string, unknown>) => {
    await catalog.reload();
    await provider.Client.validate(metadata as never);
  };
  const services: Services = {
    ...deps,
    clientAdmin: createClientAdmin(store, () => catalog.reload(), validate),
    resourceAdmin: createResourceAdmin(db, store, { accessTokenTtl: config.ttl.accessToken, reservedIds: [adminResourceId(config.issuer)] }),
    keyAdmin: createKeyAdmin(db, config, deps.fileKeys),
    record: recorder(deps.audit),
  };
  return {
    services,
    users: userOperations(services),
    clients: clientOperations(services),
    resources: resourceOperations(services),
    grants: grantOperations(services),
    credentials: credentialOperations(services),
    audit: auditOperations(services),
  };
}

export type Administration = ReturnType<typeof createAdministration>;
