// Authorization details (RFC 9396) on the consent page: one line per requested detail in the
// words its resource server declared ("Read and comment on doc-42"), each action a checkbox the
// user may untick; what they leave ticked is what the grant holds.
import type { ResourceSnapshot } from '../services/resources.ts';
import { describeDetail, plainList } from '../services/authorization-detail-types.ts';
import type { Detail } from '../services/detail-grants.ts';

export interface DetailLine {
  index: number;
  /** The declared description, filled from the detail. */
  description: string;
  /** The resource server's name. */
  api: string;
  /** The checkboxes' field name: one field per detail, so a form stays within the parser's array limit. */
  field: string;
  /** One checkbox per action; a detail without actions is one checkbox for the whole detail. */
  actions: Array<{ value: string; label: string }>;
}

/** The requested details as the provider's consent prompt gives them (`details.rar`). */
export function promptDetails(promptDetails: unknown): Detail[] {
  const rar = (promptDetails as { rar?: unknown } | undefined)?.rar;
  return Array.isArray(rar) ? (rar as Detail[]) : [];
}

export function detailLines(details: readonly Detail[], snapshot: ResourceSnapshot): DetailLine[] {
  return details.map((detail, index) => {
    const declared = snapshot.detailType(detail.type);
    const actions = Array.isArray(detail.actions) ? [...new Set(detail.actions)] : undefined;
    const described = describeDetail(declared?.definition, { ...detail, actions: actions ? plainList(actions) : undefined });
    return {
      index,
      description: described,
      api: declared?.resource.name ?? detail.type,
      field: `action-${index}`,
      actions: actions ? actions.map((action) => ({ value: action, label: action })) : [{ value: '*', label: 'Allow' }],
    };
  });
}

/**
 * The approved details as the grant keeps them: each names its API in `locations` (RFC 9396
 * §2.2), so the grant holds that API even when no scope of it was asked (services/grant-scopes.ts).
 * Tokens carry the details as requested (oidc/authorization-details.ts), not these copies.
 */
export function forGrant(approved: readonly Detail[], snapshot: ResourceSnapshot): Detail[] {
  return approved.map((detail) => {
    const owner = snapshot.detailType(detail.type)?.resource.id;
    return owner ? { ...detail, locations: [owner] } : detail;
  });
}

/** What the user approved: each detail with only its ticked actions; unticked entirely, left out. */
export function approvedDetails(details: readonly Detail[], tickedFor: (field: string) => readonly string[]): Detail[] {
  const approved: Detail[] = [];
  details.forEach((detail, index) => {
    const ticked = new Set(tickedFor(`action-${index}`));
    if (!Array.isArray(detail.actions)) {
      if (ticked.has('*')) approved.push(detail);
      return;
    }
    const actions = [...new Set(detail.actions)].filter((action) => ticked.has(action));
    if (actions.length) approved.push({ ...detail, actions });
  });
  return approved;
}
