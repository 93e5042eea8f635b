// The landing page, the stylesheet, and health checks for orchestrators.
import Router from '@koa/router';
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Views } from '../http/views.ts';
import { pendingMigrations } from '../../adapters/migrations/index.ts';
import { VIEWS_DIR } from '../http/views.ts';

const STYLESHEET = fs.readFileSync(path.join(VIEWS_DIR, 'assets', 'style.css'));
const ICON = fs.readFileSync(path.join(VIEWS_DIR, 'assets', 'icon.svg'));

export function siteRoutes({ views, db, issuer, lifecycle }: { views: Views; db: Knex; issuer: string; lifecycle?: { shuttingDown: boolean } | undefined }): Router {
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

  // Ready only while this instance should get traffic (T38): not while shutting down (the load
  // balancer then stops sending it requests before it stops accepting them), and only while the
  // database answers and its schema is the one this code needs. The keys are loaded before the
  // listener opens, so an instance that answers at all has them.
  router.get('/health/ready', async (ctx) => {
    const unavailable = (reason: string) => {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', reason };
    };
    if (lifecycle?.shuttingDown) return unavailable('shutting down');
    try {
      const pending = await pendingMigrations(db);
      if (pending.length) return unavailable(`database schema not current: ${pending.length} migration(s) pending`);
      ctx.body = { status: 'ok' };
    } catch {
      unavailable('database');
    }
  });

  return router;
}
