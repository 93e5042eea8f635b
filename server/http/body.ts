// Form parsing for our own routes only (a parser in front of oidc-provider would break it).
// Small limits: our forms carry a few short fields.
import { bodyParser } from '@koa/bodyparser';

export const formBody = bodyParser({
  enableTypes: ['form'],
  formLimit: '16kb',
  encoding: 'utf-8',
});

/** A single string field, or undefined when missing, repeated or not a string. */
export function field(body: unknown, name: string): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** All string values of a repeatable field (checkboxes). */
export function fields(body: unknown, name: string): string[] {
  if (!body || typeof body !== 'object') return [];
  const value = (body as Record<string, unknown>)[name];
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
