// The landing page, the stylesheet, and health checks for orchestrators.
import Router from '@koa/router';
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Views } from '../http/views.ts';
import { VIEWS_DIR } from '../http/views.ts';

const STYLESHEET = fs.readFileSync(path.join(VIEWS_DIR, 'assets', 'style.css'));
const ICON = fs.readFileSync(path.join(VIEWS_DIR, 'assets', 'icon.svg'));

export function siteRoutes({ views, db, issuer }: { views: Views; db: Knex; issuer: string }): Router {
  const router = new Router();

  router.get('/', async (ctx) => {
    await views.respond(ctx, 'home', { title: 'Latchkey', issuer });
  });

  router.get('/assets/style.css', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = 'text/css';
    ctx.body = STYLESHEET;
  });

  // Browsers ask for an icon on every page; an answer keeps their consoles free of 404s.
  for (const iconPath of ['/assets/icon.svg', '/favicon.ico']) {
    router.get(iconPath, (ctx) => {
      ctx.set('Cache-Control', 'public, max-age=86400');
      ctx.type = 'image/svg+xml';
      ctx.body = ICON;
    });
  }

  router.get('/health/live', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  // Ready only while the database answers (T38): load balancers stop sending traffic otherwise.
  router.get('/health/ready', async (ctx) => {
    try {
      await db.raw('SELECT 1');
      ctx.body = { status: 'ok' };
    } catch {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', reason: 'database' };
    }
  });

  return router;
}
