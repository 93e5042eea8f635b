// Raw token-endpoint requests, for tests that need exact statuses and parallel requests.
export interface TokenAnswer {
  status: number;
  body: Record<string, string>;
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export async function tokenRequest(
  issuer: string,
  credentials: { id: string; secret: string },
  fields: Record<string, string>,
): Promise<TokenAnswer> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(credentials.id, credentials.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

export async function introspect(issuer: string, credentials: { id: string; secret: string }, token: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${issuer}/token/introspection`, {
    method: 'POST',
    headers: { authorization: basic(credentials.id, credentials.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  return (await response.json()) as Record<string, unknown>;
}
