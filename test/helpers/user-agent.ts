// A scripted browser for protocol tests: real HTTP, a cookie jar that honours paths, manual
// redirects, and form submission by reading our pages' hidden fields. (The pages themselves are
// tested in a real Chromium in test/browser/.)
export interface PageResponse {
  status: number;
  url: string;
  location?: string;
  headers: Headers;
  body: string;
}

interface StoredCookie {
  name: string;
  value: string;
  path: string;
}

export class UserAgent {
  readonly #cookies = new Map<string, StoredCookie>();

  #store(setCookies: string[]) {
    for (const header of setCookies) {
      const [pair, ...attributes] = header.split(';').map((s) => s.trim());
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 1) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let cookiePath = '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.split('=');
        if (key?.toLowerCase() === 'path') cookiePath = val;
        if (key?.toLowerCase() === 'expires' && Date.parse(val) <= Date.now()) expired = true;
        if (key?.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
      }
      const key = `${name};${cookiePath}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path: cookiePath });
    }
  }

  cookieHeader(url: string): string {
    const { pathname } = new URL(url);
    return [...this.#cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  cookieNames(): string[] {
    return [...this.#cookies.values()].map((c) => c.name);
  }

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string> | Array<[string, string]>; headers?: Record<string, string> } = {},
  ): Promise<PageResponse> {
    const headers: Record<string, string> = { ...init.headers };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await fetch(url, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.#store(response.headers.getSetCookie());
    const location = response.headers.get('location') ?? undefined;
    return {
      status: response.status,
      url,
      location: location ? new URL(location, url).toString() : undefined,
      headers: response.headers,
      body: await response.text(),
    };
  }

  /** Follows redirects on this server until a page answers or a redirect leaves for `stopAt`. */
  async follow(url: string, stopAt: string): Promise<PageResponse> {
    let response = await this.request(url);
    for (let hops = 0; hops < 10 && response.location; hops += 1) {
      if (!response.location.startsWith(new URL(url).origin) || response.location.startsWith(stopAt)) return response;
      response = await this.request(response.location);
    }
    return response;
  }
}

/** The value of a hidden input in one of our pages. */
export function hiddenField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match?.[1]) throw new Error(`no hidden field ${name} in page`);
  return match[1];
}

/** The action of the first form posting to a path ending with `suffix`. */
export function formAction(html: string, suffix: string): string {
  const match = new RegExp(`action="([^"]*${suffix})"`).exec(html);
  if (!match?.[1]) throw new Error(`no form posting to *${suffix} in page`);
  return match[1];
}

/**
 * What a browser would send from the consent form as the page draws it: the CSRF value and every
 * ticked, enabled scope checkbox (the defaults), plus `extra` fields.
 */
export function consentFields(html: string, extra: Array<[string, string]> = []): Array<[string, string]> {
  const ticked = [...html.matchAll(/<input type="checkbox"[^>]*>/g)]
    .map((match) => match[0])
    .filter((tag) => / checked/.test(tag) && !/ disabled/.test(tag) && /name="scope"/.test(tag))
    .map((tag) => /value="([^"]*)"/.exec(tag)?.[1] as string);
  return [['csrf', hiddenField(html, 'csrf')], ...ticked.map((scope): [string, string] => ['scope', scope]), ...extra];
}
