// What one fuzz case is: a valid request with a few mutations (to reach the code behind the
// first checks), or a request generated from scratch (to hit the first checks from every side).
import fc from 'fast-check';
import { randomRequest } from './requests.ts';
import type { RequestSpec } from './spec.ts';
import { mutatedRequest } from './valid-requests.ts';

export const anyRequest: fc.Arbitrary<RequestSpec> = fc.oneof({ arbitrary: mutatedRequest, weight: 3 }, { arbitrary: randomRequest, weight: 2 });
