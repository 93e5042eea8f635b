// The MCP server's tools over the demo contacts, and the scopes each needs. A tool call runs for
// the user the access token acts for (its `sub`); a token without a user (client_credentials)
// would get a bucket of its own, never a user's.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { z } from 'zod';
import type { ContactStore } from '../contacts-api/store.ts';

export const READ = 'contacts:read';
export const WRITE = 'contacts:write';

/**
 * The scopes an MCP request needs: reading for anything (initialize, tools/list, list_contacts),
 * reading and writing for add_contact. The 403 challenge names all of them, so a client that
 * steps up asks for both at once and keeps what it had (the MCP authorization spec's rule).
 */
export function scopesFor(messages: unknown): string[] {
  const list = Array.isArray(messages) ? messages : [messages];
  const writes = list.some((m) => {
    const message = m as { method?: unknown; params?: { name?: unknown } } | null;
    return message?.method === 'tools/call' && message.params?.name === 'add_contact';
  });
  return writes ? [READ, WRITE] : [READ];
}

function ownerOf(auth: AuthInfo | undefined): string {
  const sub = auth?.extra?.sub;
  return typeof sub === 'string' ? `user:${sub}` : `client:${auth?.clientId ?? 'unknown'}`;
}

export function contactsMcpServer(store: ContactStore): McpServer {
  const server = new McpServer({ name: 'latchkey-demo-contacts', version: '1.0.0' });

  server.registerTool(
    'list_contacts',
    { description: "List the signed-in user's contacts (needs contacts:read).", inputSchema: {} },
    async (_args, { authInfo }) => {
      const contacts = store.list(ownerOf(authInfo));
      return { content: [{ type: 'text', text: JSON.stringify({ contacts }) }], structuredContent: { contacts } };
    },
  );

  server.registerTool(
    'add_contact',
    {
      description: 'Add a contact for the signed-in user (needs contacts:write).',
      inputSchema: { name: z.string().trim().min(1).max(200), email: z.string().email().max(254) },
    },
    async ({ name, email }, { authInfo }) => {
      // The HTTP layer already refused a token without it; a tool never trusts that alone.
      if (!authInfo?.scopes.includes(WRITE)) return { isError: true, content: [{ type: 'text', text: 'This needs the contacts:write scope' }] };
      const contact = store.add(ownerOf(authInfo), { name, email });
      return { content: [{ type: 'text', text: JSON.stringify(contact) }], structuredContent: { contact } };
    },
  );

  return server;
}
