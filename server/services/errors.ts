// What a service refuses, in terms any caller can answer with: the CLI prints the message, the
// admin API maps the reason to a status (invalid → 400, not_found → 404, conflict → 409) and
// the field, when there is one, into `fields`. Services never choose a status themselves.

export type Refusal = 'invalid' | 'not_found' | 'conflict';

export class ServiceError extends Error {
  constructor(
    message: string,
    readonly reason: Refusal = 'invalid',
    /** The input field the refusal is about (snake_case, as the admin API names it). */
    readonly field?: string,
  ) {
    super(message);
  }
}
