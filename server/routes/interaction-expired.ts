// The provider's "no such interaction" (expired, finished, another browser's) as a page of ours,
// for every router under /interaction/:uid.
import type { Middleware } from 'koa';
import { errors } from 'oidc-provider';
import { HttpError } from '../http/errors.ts';

export const interactionExpiredAsPage: Middleware = async (_ctx, next) => {
  try {
    await next();
  } catch (error) {
    if (!(error instanceof errors.SessionNotFound)) throw error;
    throw new HttpError(400, 'session_expired', 'This sign-in request has expired or was already completed. Go back to the app and try again.', { title: 'Sign-in expired' });
  }
};
