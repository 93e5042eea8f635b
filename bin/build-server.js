#!/usr/bin/env node
// Builds the server into one ES module, dist/server/index.js, which is what `npm start` runs, and
// the operator CLI into dist/cli/latchkey.js, which `npx latchkey` runs where tsx is not installed
// (a production install, `npm ci --omit=dev`); and, for the benchmarks only, dist/bench/server.js,
// the same server with the benchmark instrumentation (bench/server.ts), which the production
// bundle does not contain. Running TypeScript through tsx at run time kept its loader, a second V8
// isolate on a thread of its own, alive for the whole life of the server: ~34 MiB of resident
// memory for nothing after start-up (bench/README.md). Tests and `npm run dev` still run the
// sources through tsx; packages stay in node_modules, only our own code is bundled.
//
// `--if-stale` (what `npm start` passes) builds only when a source is newer than the bundles, so a
// start after an unchanged checkout does not rebuild, and a production install without esbuild
// starts from the bundles it shipped with.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundle, ROOT, upToDate } from './bundle.js';

const SERVER_BUNDLE = path.join(ROOT, 'dist', 'server', 'index.js');
const CLI_BUNDLE = path.join(ROOT, 'dist', 'cli', 'latchkey.js');
const BENCH_BUNDLE = path.join(ROOT, 'dist', 'bench', 'server.js');
const SOURCES = ['server', 'adapters', 'seeds', 'cli'];

/** Builds the server bundle (synchronously: a test helper builds before it spawns); returns its path. */
export function buildServer() {
  return bundle('server/index.ts', SERVER_BUNDLE);
}

/** Builds the CLI bundle; returns its path. */
export function buildCli() {
  return bundle('cli/latchkey.ts', CLI_BUNDLE);
}

/** Builds the benchmarks' server (bench/server.ts); returns its path. */
export function buildBenchServer() {
  return bundle('bench/server.ts', BENCH_BUNDLE);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const ifStale = process.argv.includes('--if-stale');
  const outputs = [SERVER_BUNDLE, CLI_BUNDLE];
  if (ifStale && fs.existsSync(path.join(ROOT, 'server')) && upToDate(outputs, SOURCES)) process.exit(0);
  try {
    buildServer();
    buildCli();
  } catch (error) {
    const missing = error instanceof Error && /Cannot find module 'esbuild'/.test(error.message);
    if (missing && outputs.every((file) => fs.existsSync(file))) process.exit(0);
    // esbuild's own message names the file and line.
    console.error(
      missing
        ? 'latchkey: dist/ has no built server and esbuild is not installed: run `npm ci && npm run build` where the development dependencies are, then ship dist/ with the production install'
        : `latchkey: the server could not be built:\n${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  }
}
