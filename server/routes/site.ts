// The landing page, the stylesheet, and health checks for orchestrators.
import Router from '@koa/router';
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Views } from '../http/views.ts';
import { readiness } from '../services/readiness.ts';
import { VIEWS_DIR } from '../http/views.ts';

const STYLESHEET = fs.readFileSync(path.join(VIEWS_DIR, 'assets', 'style.css'));
const ICON = fs.readFileSync(path.join(VIEWS_DIR, 'assets', 'icon.svg'));
// The pages' one script (passkey ceremonies), first-party so CSP script-src 'self' allows it.
const PASSKEYS_SCRIPT = fs.readFileSync(path.join(VIEWS_DIR, 'assets', 'passkeys.js'));

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

  router.get('/assets/passkeys.js', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = 'text/javascript';
    ctx.body = PASSKEYS_SCRIPT;
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

  // Ready only while this instance should get traffic (T38; services/readiness.ts): a load
  // balancer stops sending requests to an instance that is shutting down before it stops
  // accepting them.
  router.get('/health/ready', async (ctx) => {
    const state = await readiness(db, lifecycle);
    if (state.ready) ctx.body = { status: 'ok' };
    else {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', reason: state.reason };
    }
  });

  return router;
}
