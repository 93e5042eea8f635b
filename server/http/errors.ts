// Every refusal our own routes make, as one kind of error: the HTTP status, the OAuth-style error
// code, the words shown to a person (always safe to show), and what an API caller reads. Routes
// and middleware throw these; only http/error-boundary.ts turns them into responses (JSON for API
// callers, our error page for browsers). Provider-side errors go through oidc-provider's own
// handler and renderError (oidc/pages.ts) instead.
import { ServiceError } from '../services/errors.ts';

export interface HttpErrorOptions {
  /** The page's heading. */
  title?: string;
  /** What API callers read as `error_description` (the explanation by default). */
  description?: string;
  /** Response headers (WWW-Authenticate, Allow, Retry-After...). */
  headers?: Record<string, string>;
  /** More members of the JSON answer (the admin API's `fields`). */
  extra?: Record<string, unknown>;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    /** Words for a person, shown on the error page. */
    readonly explanation: string,
    readonly options: HttpErrorOptions = {},
  ) {
    super(options.description ?? explanation);
  }
}

// The refusals more than one place makes, made once.

export const notFound = () => new HttpError(404, 'not_found', 'There is no page at this address.', { title: 'Not found' });

export const methodNotAllowed = (allow: string) =>
  new HttpError(405, 'invalid_request', 'This method is not supported here.', { title: 'Method not allowed', headers: { Allow: allow } });

/** A form whose CSRF token is missing, wrong or expired (sign-in, consent, account pages). */
export const formExpired = () =>
  new HttpError(403, 'invalid_request', 'This form has expired or did not come from this site. Go back, reload the page and try again.', { title: 'Request refused' });

/** A state-changing form posted from another site (http/same-origin.ts). */
export const foreignForm = () =>
  new HttpError(403, 'invalid_request', 'This form was sent from another site, so it was not accepted.', { title: 'Request refused' });

/** A request Koa or a body parser could not read (malformed, too large, wrong type). */
export function unreadable(status: number): HttpError {
  const description = status === 413 ? 'the request body is too large' : status === 415 ? 'unsupported content type' : 'the request could not be read';
  return new HttpError(status, 'invalid_request', 'The request could not be read.', { title: 'Request not accepted', description });
}

export const serverError = () =>
  new HttpError(500, 'server_error', 'Something went wrong on our side. Please try again in a moment.', { title: 'Something went wrong' });

/** A service's refusal as an answer: invalid → 400, not_found → 404, conflict → 409, naming the field. */
export function fromServiceError(error: ServiceError): HttpError {
  const fields = error.field ? { fields: { [error.field]: error.message } } : undefined;
  if (error.reason === 'not_found') return new HttpError(404, 'not_found', error.message);
  if (error.reason === 'conflict') return new HttpError(409, 'conflict', error.message, { extra: fields });
  return new HttpError(400, 'invalid_request', error.message, { extra: fields });
}
