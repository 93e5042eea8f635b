// What one fuzz case is: a valid request with a few mutations (to reach the code behind the
// first checks), or a request generated from scratch (to hit the first checks from every side);
// one case in six is the admin API's (admin-requests.ts mixes both kinds the same way).
import fc from 'fast-check';
import { randomRequest } from './requests.ts';
import type { RequestSpec } from './spec.ts';
import { mutatedRequest } from './valid-requests.ts';
import { adminRequest } from './admin-requests.ts';

export const anyRequest: fc.Arbitrary<RequestSpec> = fc.oneof(
  { arbitrary: mutatedRequest, weight: 15 },
  { arbitrary: randomRequest, weight: 10 },
  { arbitrary: adminRequest, weight: 5 },
);

/** The cases a run draws from: every endpoint, or the admin API only (`npm run fuzz -- --only admin`). */
export const CASES = { all: anyRequest, admin: adminRequest } satisfies Record<string, fc.Arbitrary<RequestSpec>>;
export type CaseSet = keyof typeof CASES;
