#!/usr/bin/env node
// Builds the server into one ES module, dist/server/index.js (and its source map), which is what
// `npm start` runs; and, for the benchmarks only, dist/bench/server.js, the same server with the
// benchmark instrumentation (bench/server.ts), which the production bundle does not contain. Running TypeScript through tsx at run time kept its loader, a second V8
// isolate on a thread of its own, alive for the whole life of the server: ~34 MiB of resident
// memory for nothing after start-up (bench/README.md). The CLI, tests and `npm run dev` still
// run the sources through tsx; packages stay in node_modules, only our own code is bundled.
//
// Each file is written beside its final name and renamed over it, so a server starting while
// another process builds (parallel test workers) reads a whole file, never half of one.
import esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SERVER_BUNDLE = path.join(ROOT, 'dist', 'server', 'index.js');
const BENCH_BUNDLE = path.join(ROOT, 'dist', 'bench', 'server.js');

function build(entry, outfile) {
  const result = esbuild.buildSync({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    // Not minified, and function names kept: stack traces and profiles read like the sources.
    keepNames: true,
    write: false,
    logLevel: 'silent',
  });
  fs.mkdirSync(path.dirname(outfile), { recursive: true });
  // The map first, so the bundle never points at a map that is not there yet.
  const outputs = [...result.outputFiles].sort((a, b) => Number(a.path.endsWith('.js')) - Number(b.path.endsWith('.js')));
  for (const output of outputs) {
    const temporary = `${output.path}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, output.contents);
    fs.renameSync(temporary, output.path);
  }
  return outfile;
}

/** Builds the bundle (synchronously: a test helper builds before it spawns); returns its path. */
export function buildServer() {
  return build('server/index.ts', SERVER_BUNDLE);
}

/** Builds the benchmarks' server (bench/server.ts); returns its path. */
export function buildBenchServer() {
  return build('bench/server.ts', BENCH_BUNDLE);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    buildServer();
  } catch (error) {
    // esbuild's own message names the file and line.
    console.error(`latchkey: the server could not be built:\n${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
