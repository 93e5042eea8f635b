// Every call to the authorization server (discovery, introspection) goes through here, so that
// each way it can fail becomes the same answer: 503 temporarily_unavailable. A network error, a
// timeout, a 5xx or an unreadable body says nothing about the caller's token, and a 401 from the
// introspection endpoint means this API's own credentials are wrong: neither is the caller's
// fault, so neither may become a 401 invalid_token.
import { Refusal } from './errors.ts';

const UNAVAILABLE = 'The authorization server could not be reached to check the access token';

/** The refusal for anything the authorization server got wrong; `detail` (the cause) is for the API's logs only. */
export function unavailable(detail: string, cause?: unknown): Refusal {
  return new Refusal('temporarily_unavailable', UNAVAILABLE, { cause: new Error(detail, cause === undefined ? undefined : { cause }) });
}

/** Fetches `url` and returns its JSON object; anything but 200 with a JSON object throws 503. */
export async function askAuthorizationServer(
  url: string | URL,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
  timeoutMs: number,
  what: string,
): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { accept: 'application/json', ...init.headers },
      signal: AbortSignal.timeout(timeoutMs),
      // Neither endpoint redirects; following one could send a token or our credentials elsewhere.
      redirect: 'error',
    });
  } catch (error) {
    throw unavailable(`${what}: ${url} could not be reached`, error);
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw unavailable(`${what}: ${url} answered ${response.status}`);
  }
  let document: unknown;
  try {
    document = await response.json();
  } catch (error) {
    throw unavailable(`${what}: ${url} did not answer JSON in time`, error);
  }
  if (!document || typeof document !== 'object' || Array.isArray(document)) {
    throw unavailable(`${what}: ${url} answered something other than a JSON object`);
  }
  return document as Record<string, unknown>;
}
