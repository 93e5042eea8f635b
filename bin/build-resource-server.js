#!/usr/bin/env node
// Builds latchkey/resource-server, the library APIs use to check Latchkey tokens, into
// dist/resource-server/: index.js, one ES module bundled from resource-server/index.ts (jose
// and node: built-ins stay imports), and the .d.ts declarations that package.json's "types"
// export names, emitted by tsc (resource-server/tsconfig.build.json rewrites `./x.ts` specifiers
// to `./x.js`). APIs then import it in plain Node, with no TypeScript loader.
//
// As in build-server.js, every file is written beside its final name and renamed over it, so a
// process importing the package while another builds (parallel test workers) reads whole files.
import esbuild from 'esbuild';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = path.join(ROOT, 'dist', 'resource-server');
const BUNDLE = path.join(OUT_DIR, 'index.js');
const TSCONFIG = path.join(ROOT, 'resource-server', 'tsconfig.build.json');

function writeAtomically(file, contents) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, contents);
  fs.renameSync(temporary, file);
}

function bundle() {
  const result = esbuild.buildSync({
    absWorkingDir: ROOT,
    entryPoints: ['resource-server/index.ts'],
    outfile: BUNDLE,
    bundle: true,
    // jose is a dependency of the package; bundling it would give the API a second copy.
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    keepNames: true,
    write: false,
    logLevel: 'silent',
  });
  // The map first, so the bundle never points at a map that is not there yet.
  const outputs = [...result.outputFiles].sort((a, b) => Number(a.path.endsWith('.js')) - Number(b.path.endsWith('.js')));
  for (const output of outputs) writeAtomically(output.path, output.contents);
}

function declarations() {
  // TypeScript is a development dependency: loaded only when declarations are built.
  const ts = createRequire(import.meta.url)('typescript');
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } };
  const parsed = ts.getParsedCommandLineOfConfigFile(TSCONFIG, {}, host);
  if (parsed.errors.length > 0) throw new Error(ts.formatDiagnostics(parsed.errors, formatHost(ts)));
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const written = [];
  const emitted = program.emit(undefined, (file, text) => written.push([file, text]), undefined, true);
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (diagnostics.length > 0) throw new Error(ts.formatDiagnostics(diagnostics, formatHost(ts)));
  // tsc rewrites the specifiers of emitted JavaScript only; the declarations keep `./x.ts`, which
  // a consumer's compiler refuses without allowImportingTsExtensions. Relative ones become `.js`.
  for (const [file, text] of written) writeAtomically(file, text.replace(RELATIVE_TS_SPECIFIER, '$1$2$3.js$2'));
}

// from './x.ts', import('./x.ts'), import './x.ts'
const RELATIVE_TS_SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g;

function formatHost(ts) {
  return { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' };
}

/** Builds the bundle and its declarations (synchronously: a test builds before it spawns); returns the bundle's path. */
export function buildResourceServer() {
  bundle();
  declarations();
  return BUNDLE;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    buildResourceServer();
  } catch (error) {
    console.error(`latchkey: the resource server library could not be built:\n${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
