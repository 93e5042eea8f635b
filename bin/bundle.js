// One way to bundle our TypeScript for plain Node, shared by every build (server, CLI, resource-
// server library, the benchmarks' servers): one ES module per entry, packages left as imports,
// function names kept (stack traces and profiles read like the sources), a linked source map.
// Each file is written beside its final name and renamed over it, so a process starting while
// another builds (parallel test workers) reads a whole file, never half of one; the map first, so
// a bundle never points at a map that is not there yet. esbuild is a development dependency,
// loaded only when something is built.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function writeAtomically(file, contents) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, contents);
  fs.renameSync(temporary, file);
}

/** Bundles `entry` (relative to the project) into `outfile`; returns `outfile`. */
export function bundle(entry, outfile) {
  const esbuild = createRequire(import.meta.url)('esbuild');
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
    keepNames: true,
    write: false,
    logLevel: 'silent',
  });
  const outputs = [...result.outputFiles].sort((a, b) => Number(a.path.endsWith('.js')) - Number(b.path.endsWith('.js')));
  for (const output of outputs) writeAtomically(output.path, output.contents);
  return outfile;
}

function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (/\.(ts|js)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** Whether every output exists and is newer than every source it is built from. */
export function upToDate(outputs, sourceDirs) {
  const built = outputs.map((file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0));
  const sources = Math.max(...sourceDirs.map((dir) => newestSource(path.join(ROOT, dir))), fs.statSync(path.join(ROOT, 'package-lock.json')).mtimeMs);
  return Math.min(...built) > sources;
}
