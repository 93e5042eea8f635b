// EJS pages rendered inside one layout. Templates only use escaped output (`<%= %>`), except
// for the layout's `body` and markup the provider builds itself (its logout form).
import ejs from 'ejs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'koa';

/**
 * The project's views/, found upwards from this module: it runs from server/http/ under tsx and
 * from dist/server/ as the built bundle (bin/build-server.js).
 */
function findViewsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'views');
    if (fs.existsSync(path.join(candidate, '_layout.ejs'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('views/ not found above the server code');
    dir = parent;
  }
}

export const VIEWS_DIR = findViewsDir();

export interface PageLocals {
  title: string;
  [name: string]: unknown;
}

export interface Views {
  render(name: string, locals: PageLocals): Promise<string>;
  /** Renders into the response as HTML with the given status. */
  respond(ctx: Context, name: string, locals: PageLocals, status?: number): Promise<void>;
}

export function createViews({ cache }: { cache: boolean }): Views {
  const options = { cache, async: true, rmWhitespace: false } as const;

  async function render(name: string, locals: PageLocals): Promise<string> {
    const body = await ejs.renderFile(path.join(VIEWS_DIR, `${name}.ejs`), locals, options);
    return ejs.renderFile(path.join(VIEWS_DIR, '_layout.ejs'), { ...locals, body }, options);
  }

  return {
    render,
    async respond(ctx, name, locals, status = 200) {
      const html = await render(name, locals);
      ctx.status = status;
      ctx.type = 'html';
      ctx.body = html;
    },
  };
}
