// In-memory contacts, one bucket per owner. A demo: everything is gone on restart.
import crypto from 'node:crypto';

export interface Contact {
  id: string;
  name: string;
  email: string;
  createdAt: string;
}

export interface NewContact {
  name: string;
  email: string;
}

// Enough to catch typos; the API does not send mail, so no stricter check is worth its cost.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const FIELDS = new Set(['name', 'email']);

/** The body of POST /contacts, or a sentence saying what is wrong with it. */
export function parseNewContact(body: unknown): NewContact | string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'The body must be a JSON object {"name", "email"}';
  const unknown = Object.keys(body).find((key) => !FIELDS.has(key));
  if (unknown) return `Unknown field: ${unknown.slice(0, 40)}`;
  const { name, email } = body as Record<string, unknown>;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200) return 'name must be a non-empty string of at most 200 characters';
  if (typeof email !== 'string' || email.length > 254 || !EMAIL.test(email)) return 'email must be an e-mail address';
  return { name: name.trim(), email: email.trim() };
}

export class ContactStore {
  readonly #buckets = new Map<string, Map<string, Contact>>();

  list(owner: string): Contact[] {
    return [...(this.#buckets.get(owner)?.values() ?? [])];
  }

  add(owner: string, input: NewContact): Contact {
    const contact = { id: crypto.randomUUID(), ...input, createdAt: new Date().toISOString() };
    let bucket = this.#buckets.get(owner);
    if (!bucket) this.#buckets.set(owner, (bucket = new Map()));
    bucket.set(contact.id, contact);
    return contact;
  }

  /** Only within the owner's bucket: another owner's id is simply not found. */
  get(owner: string, id: string): Contact | undefined {
    return this.#buckets.get(owner)?.get(id);
  }

  /** Only within the owner's bucket: another owner's id is simply not found. */
  remove(owner: string, id: string): boolean {
    return this.#buckets.get(owner)?.delete(id) ?? false;
  }
}
