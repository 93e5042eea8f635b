// SIGTERM with SHUTDOWN_DRAIN=1, on the real server process (server/run.ts), on SQLite and
// PostgreSQL. What a load balancer, the clients and the operator would notice:
//
// - readiness answers 503 at once, while the listener still accepts and serves new requests for
//   the drain (every probe and request on a connection of its own);
// - writes in flight when the signal lands (tokens, registrations, revocations, a refresh, a
//   grant revoked) are all answered, none cut off;
// - requests whose bodies are still trickling in when the listener closes (a token request and
//   a registration sent over 2.5 s) are read to the end and answered;
// - clients sending over keep-alive connections (a balancer's pool) are answered until told to
//   go, and the server does not wait for SHUTDOWN_TIMEOUT to force their connections closed
//   (it did: server/http/closing-connections.ts);
// - the process exits 0, as soon as the last of those requests is answered;
// - every write acknowledged to a client is there after a restart on the same database: tokens
//   introspect active, revoked ones inactive, the refreshed pair works and its predecessor is
//   spent, registrations are readable (RFC 7592) and listed by `latchkey client list`.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshDatabase, STORES, type StoreKind } from '../helpers/databases.ts';
import { freePort, runCli, tempDir } from '../helpers/processes.ts';
import { readDemoCredentials, startServerProcess, type ServerChild } from '../helpers/server-process.ts';
import { call, slowCall, type Answer, type Call, type CallError } from '../helpers/slow-client.ts';
import { codeFlow, confidentialClient, publicClient } from '../helpers/oauth.ts';
import { DEMO } from '../../seeds/01-demo.ts';

const DRAIN_MS = 1000;
/** Long enough that the bodies are still arriving after the drain has ended and the listener closed. */
const SLOW_MS = 2500;
const REDIRECT = DEMO.reader.redirectUris[1];
const SPA_REDIRECT = DEMO.spa.redirectUris[1];

/**
 * Resolves when a new connection to `url` is refused: the listener has closed. A connection that
 * was still in the kernel's queue at that moment is reset instead, which means the same.
 */
async function listenerClosed(url: string, deadlineMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < deadlineMs) {
    try {
      await call(url);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return performance.now();
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${url} still accepted connections after ${deadlineMs} ms`);
}

function pending<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

async function scenario(store: StoreKind) {
  const database = await freshDatabase(store);
  const dir = tempDir();
  const keysFile = path.join(dir, 'keys.json');
  const port = await freePort();
  const env = { DATABASE_URL: database.url, KEYS_FILE: keysFile, DYNAMIC_REGISTRATION: 'open', REGISTRATIONS_PER_IP: '1000' };
  const servers: ServerChild[] = [];
  try {
    let server = startServerProcess({ port, env: { ...env, SHUTDOWN_DRAIN: String(DRAIN_MS / 1000), SHUTDOWN_TIMEOUT: '10' } });
    servers.push(server);
    await server.ready(60_000);
    const at = (route: string) => `${server.issuer}${route}`;
    const demo = readDemoCredentials(keysFile);
    const sync = { id: DEMO.sync.clientId, secret: demo[DEMO.sync.clientId] as string };
    const api = { id: DEMO.contactsApi.introspectionClientId, secret: demo[DEMO.contactsApi.introspectionClientId] as string };
    const reader = { id: DEMO.reader.clientId, secret: demo[DEMO.reader.clientId] as string };
    const ccToken: Call = { form: { grant_type: 'client_credentials', scope: 'contacts:read' }, basic: sync };
    const registration = (name: string): Call => ({ json: { client_name: name, redirect_uris: [REDIRECT] } });

    // Before the signal: tokens to revoke during it, a refresh token to rotate, a grant to end.
    const toRevoke = await Promise.all(Array.from({ length: 6 }, () => call(at('/token'), ccToken)));
    for (const issued of toRevoke) expect(issued.status).toBe(200);
    const chain = (await codeFlow(await confidentialClient(server, reader.id, reader.secret), DEMO.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' })).tokens;
    const spa = (await codeFlow(await publicClient(server, DEMO.spa.clientId), DEMO.user, { redirect_uri: SPA_REDIRECT, scope: 'openid contacts:read' })).tokens;
    expect((await call(at('/token/introspection'), { form: { token: spa.access_token }, basic: api })).body.active).toBe(true);

    // Clients that keep sending over keep-alive connections (as a balancer or an API's
    // introspection client does) until a new connection is refused: one pool of four from before
    // the signal, and one connection whose first request is still arriving when the listener
    // closes (so its connection is certainly busy then, not idle).
    const pool = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const lingering = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const kept = { answers: [] as Answer[], resets: [] as Array<{ on: 'pooled' | 'new'; sentAt: number }>, errors: [] as string[] };
    const keepSending = async (agent: http.Agent) => {
      for (;;) {
        const sentAt = performance.now();
        try {
          kept.answers.push(await call(at('/token'), ccToken, agent));
        } catch (error) {
          const { code, reusedSocket } = error as CallError;
          if (code === 'ECONNREFUSED') return; // the listener has closed: a balancer goes elsewhere
          // A reset without an answer: a pooled connection the server closed while idle as this
          // request went out on it, or a new one still in the kernel's queue when the listener
          // closed. The server never read it; a client retries (Node's ClientRequest.reusedSocket
          // docs). So it happens only as the listener closes (checked below); the server cuts
          // nothing itself unless SHUTDOWN_TIMEOUT forces it, checked below too.
          if (code === 'ECONNRESET') kept.resets.push({ on: reusedSocket ? 'pooled' : 'new', sentAt });
          else return void kept.errors.push(`${code ?? ''} ${(error as Error).message}`);
        }
      }
    };
    const keepers = [
      ...Array.from({ length: 4 }, () => pending(keepSending(pool))),
      pending(
        slowCall(at('/token'), ccToken, { durationMs: SLOW_MS, pool: lingering }).then((first) => {
          kept.answers.push(first);
          return keepSending(lingering);
        }),
      ),
    ];
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Slow requests, then a burst of writes, then SIGTERM with all of them in flight. (Each is
    // awaited below; `pending` only keeps a failure before that from going unhandled.)
    const slow = {
      token: pending(slowCall(at('/token'), ccToken, { durationMs: SLOW_MS })),
      registration: pending(slowCall(at('/reg'), registration('Slow app'), { durationMs: SLOW_MS })),
    };
    const burst = {
      tokens: Array.from({ length: 20 }, () => pending(call(at('/token'), ccToken))),
      registrations: Array.from({ length: 5 }, (_, i) => pending(call(at('/reg'), registration(`Burst app ${i}`)))),
      revocations: toRevoke.map((issued) => pending(call(at('/token/revocation'), { form: { token: issued.body.access_token as string }, basic: sync }))),
      refresh: pending(call(at('/token'), { form: { grant_type: 'refresh_token', refresh_token: chain.refresh_token as string }, basic: reader })),
      endGrant: pending(call(at('/token/revocation'), { form: { token: spa.refresh_token as string, client_id: DEMO.spa.clientId } })),
    };
    await new Promise((resolve) => setTimeout(resolve, 20));
    const signalled = performance.now();
    server.child.kill('SIGTERM');

    // At once: not ready, on a new connection (so the listener still accepts). The signal and
    // the probe race into the server's event loop, so a probe or two may still find it ready.
    let ready: Answer;
    do ready = await call(at('/health/ready'));
    while (ready.status === 200 && ready.at - signalled < DRAIN_MS);
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: 'unavailable', reason: 'shutting down' });
    expect(ready.at - signalled).toBeLessThan(DRAIN_MS);
    // Still serving during the drain: new requests on new connections are accepted and answered.
    const duringDrain = await Promise.all(Array.from({ length: 5 }, () => call(at('/token'), ccToken)));

    const closedAt = await listenerClosed(at('/health/live'), DRAIN_MS + 5000);
    expect(closedAt - signalled).toBeGreaterThanOrEqual(DRAIN_MS - 50);
    const slowToken = await slow.token;
    const slowRegistration = await slow.registration;
    const tokens = [...(await Promise.all(burst.tokens)), ...duringDrain, slowToken];
    const registrations = [...(await Promise.all(burst.registrations)), slowRegistration];
    const revocations = await Promise.all(burst.revocations);
    const refreshed = await burst.refresh;
    const endGrant = await burst.endGrant;
    const exit = await server.exited;
    const exitedAfter = performance.now() - signalled;
    await Promise.all(keepers);
    pool.destroy();
    lingering.destroy();

    // The slow bodies were still arriving after the listener had closed, and were answered.
    for (const answer of [slowToken, slowRegistration]) {
      expect(answer.lastByteAt).toBeGreaterThan(closedAt);
      expect(answer.at).toBeGreaterThan(answer.lastByteAt);
    }
    // Every request sent was answered, and with success: nothing was cut off.
    const statuses = (answers: Answer[]) => answers.map((answer) => answer.status);
    expect(statuses(tokens)).toEqual(tokens.map(() => 200));
    expect(statuses(registrations)).toEqual(registrations.map(() => 201));
    expect(statuses(revocations)).toEqual(revocations.map(() => 200));
    expect(refreshed.status).toBe(200);
    expect(endGrant.status).toBe(200);
    expect(exit, server.output()).toEqual({ code: 0, signal: null });
    expect(server.output()).toMatch(/"msg":"stopped"/);
    // The keep-alive client was answered until it was told to go; the server never had to wait
    // for SHUTDOWN_TIMEOUT and then force its connections closed (cutting what is in flight).
    expect(kept.errors).toEqual([]);
    expect(kept.resets.length).toBeLessThanOrEqual(10);
    for (const reset of kept.resets) {
      expect(reset.sentAt - signalled).toBeGreaterThan(DRAIN_MS / 2);
      expect(reset.sentAt).toBeLessThan(closedAt + 250);
    }
    expect(statuses(kept.answers)).toEqual(kept.answers.map(() => 200));
    expect(server.output()).not.toMatch(/SHUTDOWN_TIMEOUT/);
    expect(exitedAfter).toBeLessThan(SLOW_MS + 2500);
    console.info(
      `graceful shutdown (${store}): 503 after ${Math.round(ready.at - signalled)} ms, listener closed after ${Math.round(closedAt - signalled)} ms, ` +
        `slow requests answered ${Math.round(slowToken.at - closedAt)} and ${Math.round(slowRegistration.at - closedAt)} ms after that; ` +
        `${tokens.length} tokens, ${registrations.length} registrations, ${revocations.length + 1} revocations and a refresh acknowledged; ` +
        `exit 0 after ${Math.round(exitedAfter)} ms; the keep-alive client got ${kept.answers.length} answers (reset unread as the listener closed: ${kept.resets.map((r) => r.on).join(', ') || 'none'})`,
    );

    // ---- A new server on the same database: every acknowledged write is there ----
    server = startServerProcess({ port, env });
    servers.push(server);
    await server.ready(60_000);
    const active = async (token: string) => (await call(at('/token/introspection'), { form: { token }, basic: api })).body.active;
    const acknowledged = [...tokens, ...kept.answers].map((answer) => answer.body.access_token as string);
    const lost: number[] = [];
    for (let from = 0; from < acknowledged.length; from += 16) {
      const batch = acknowledged.slice(from, from + 16);
      const seen = await Promise.all(batch.map(active));
      seen.forEach((isActive, i) => isActive !== true && lost.push(from + i));
    }
    expect(lost, `acknowledged access tokens not active (of ${acknowledged.length})`).toEqual([]);
    for (const issued of toRevoke) expect(await active(issued.body.access_token as string), 'revoked token').toBe(false);
    // The grant the SPA's refresh token revocation ended: its access token went with it.
    expect(await active(spa.access_token), 'access token of the ended grant').toBe(false);
    // The rotation was kept: the successor works; the predecessor is spent.
    expect(await active(refreshed.body.access_token as string)).toBe(true);
    const next = await call(at('/token'), { form: { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token as string }, basic: reader });
    expect(next.status).toBe(200);
    expect((await call(at('/token'), { form: { grant_type: 'refresh_token', refresh_token: chain.refresh_token as string }, basic: reader })).body.error).toBe('invalid_grant');
    // Registrations: readable by their owners (RFC 7592), and listed by the operator CLI.
    for (const created of registrations) {
      const read = await call(at(`/reg/${String(created.body.client_id)}`), { bearer: created.body.registration_access_token as string });
      expect(read.status).toBe(200);
      expect(read.body.client_name).toBe(created.body.client_name);
    }
    const listed = await runCli(['client', 'list', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    const ids = (JSON.parse(listed.stdout) as Array<{ client_id: string }>).map((c) => c.client_id);
    for (const created of registrations) expect(ids).toContain(created.body.client_id);

    expect(await server.stop()).toEqual({ code: 0, signal: null });
  } finally {
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('graceful shutdown on SIGTERM (SHUTDOWN_DRAIN=1)', () => {
  for (const store of STORES) it(store === 'sqlite' ? 'SQLite' : 'PostgreSQL', () => scenario(store), 60_000);
});
