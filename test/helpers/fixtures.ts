// The records most tests need, created through the same management code the CLI uses.
import type { Harness } from './harness.ts';

export const CONTACTS = 'https://contacts.api.test';
export const CALENDAR = 'https://calendar.api.test';
export const REDIRECT = 'http://127.0.0.1:9999/cb';

export interface Fixtures {
  user: { id: string; email: string; password: string };
  contacts: { id: string; clientId: string; clientSecret: string };
  calendar: { id: string; clientId: string; clientSecret: string };
  /** Confidential web app allowed contacts:read only. */
  reader: { clientId: string; clientSecret: string };
  /** Confidential app allowed both contacts scopes. */
  editor: { clientId: string; clientSecret: string };
  /** Public client (PKCE only). */
  spa: { clientId: string };
  /** Service client with client_credentials. */
  service: { clientId: string; clientSecret: string };
}

export async function createFixtures(h: Harness, overrides: { contactsFormat?: 'opaque' | 'jwt' } = {}): Promise<Fixtures> {
  const m = h.management;
  const password = 'correct horse battery';
  const user = await m.accounts.create({ email: 'alice@example.com', password, name: 'Alice', emailVerified: true });
  const contacts = await m.resources.add({
    id: CONTACTS,
    name: 'Contacts API',
    tokenFormat: overrides.contactsFormat ?? 'opaque',
    scopes: [
      { scope: 'contacts:read', description: 'Read your contacts — read-only' },
      { scope: 'contacts:write', description: 'Add, change and delete your contacts' },
    ],
  });
  const calendar = await m.resources.add({
    id: CALENDAR,
    name: 'Calendar API',
    scopes: [{ scope: 'calendar:read', description: 'See your calendar' }],
  });
  const reader = await m.clients.add({
    name: 'Contacts Reader',
    redirectUris: [REDIRECT, 'http://127.0.0.1:9999/other'],
    scope: 'openid profile email offline_access contacts:read',
    resources: [CONTACTS],
    policyUri: 'https://reader.example/privacy',
  });
  const editor = await m.clients.add({
    name: 'Contacts Editor',
    redirectUris: [REDIRECT],
    scope: 'openid profile email offline_access contacts:read contacts:write calendar:read',
    resources: [CONTACTS, CALENDAR],
  });
  const spa = await m.clients.add({ name: 'Contacts SPA', redirectUris: [REDIRECT], public: true, resources: [CONTACTS] });
  const service = await m.clients.add({
    name: 'Sync service',
    grantTypes: ['client_credentials'],
    scope: 'contacts:read',
    resources: [CONTACTS],
  });
  await h.app.catalog.reload();
  return {
    user: { id: user.id, email: user.email, password },
    contacts: { id: CONTACTS, clientId: contacts.clientId, clientSecret: contacts.clientSecret },
    calendar: { id: CALENDAR, clientId: calendar.clientId, clientSecret: calendar.clientSecret },
    reader: { clientId: reader.clientId, clientSecret: reader.clientSecret as string },
    editor: { clientId: editor.clientId, clientSecret: editor.clientSecret as string },
    spa: { clientId: spa.clientId },
    service: { clientId: service.clientId, clientSecret: service.clientSecret as string },
  };
}
