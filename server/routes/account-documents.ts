// Per-document access (RFC 9396) on the connected-apps page: each app card lists the documents
// the user let it use, in the words their API declared ("Read and comment on Trip to Lisbon
// (doc-42): read and comment"), each with a button that withdraws that one document
// (services/detail-grants.ts: the grant is rewritten, tokens issued before lose it).
import Router from '@koa/router';
import type { Csrf } from '../http/csrf.ts';
import { field, formBody } from '../http/body.ts';
import type { DetailGrants } from '../services/detail-grants.ts';
import type { ResourceCatalog } from '../services/resources.ts';
import { describeDetail, plainList } from '../services/authorization-detail-types.ts';
import { signedInForm, type AccountSession } from './account-session.ts';

export interface DocumentLine {
  type: string;
  identifier: string | undefined;
  api: string;
  description: string;
}

export interface AccountDocumentsDeps {
  session: AccountSession;
  details: DetailGrants;
  catalog: ResourceCatalog;
  csrf: Csrf;
}

export function createAccountDocuments(deps: AccountDocumentsDeps) {
  const { session, details, catalog, csrf } = deps;

  /** The documents a grant lets its app use, one line each. */
  async function linesFor(grantId: string): Promise<DocumentLine[]> {
    const held = await details.heldBy(grantId);
    if (!held.length) return [];
    const snapshot = await catalog.current();
    return held.map((detail) => {
      const declared = snapshot.detailType(detail.type);
      const actions = Array.isArray(detail.actions) ? plainList(detail.actions) : undefined;
      return {
        type: detail.type,
        identifier: typeof detail.identifier === 'string' ? detail.identifier : undefined,
        api: declared?.resource.name ?? detail.type,
        description: describeDetail(declared?.definition, { ...detail, actions }),
      };
    });
  }

  const routes = new Router();
  routes.post('/account/apps/:grantId/withdraw-detail', formBody, async (ctx) => {
    const signedIn = await signedInForm(ctx, session, csrf, 'apps');
    const type = field(ctx.request.body, 'type');
    // Only the signed-in user's own grants (withdraw checks the account): another id is unknown.
    if (type) await details.withdraw(ctx.params.grantId as string, signedIn.user.id, { type, identifier: field(ctx.request.body, 'identifier') }, { actor: 'user', ip: ctx.ip });
    ctx.status = 303;
    ctx.redirect('/account');
  });

  return { linesFor, routes };
}

export type AccountDocuments = ReturnType<typeof createAccountDocuments>;
