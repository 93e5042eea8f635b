#!/usr/bin/env node
// Builds latchkey/resource-server, the library APIs use to check Latchkey tokens, into
// dist/resource-server/: index.js, one ES module bundled from resource-server/index.ts (jose
// and node: built-ins stay imports), and the .d.ts declarations that package.json's "types"
// export names, emitted by tsc (resource-server/tsconfig.build.json rewrites `./x.ts` specifiers
// to `./x.js`). APIs then import it in plain Node, with no TypeScript loader.
//
// Files are written atomically (bin/bundle.js), so a
// process importing the package while another builds (parallel test workers) reads whole files.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundle, ROOT, writeAtomically } from './bundle.js';

const BUNDLE = path.join(ROOT, 'dist', 'resource-server', 'index.js');
const TSCONFIG = path.join(ROOT, 'resource-server', 'tsconfig.build.json');

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
  // jose is a dependency of the package; bundling it would give the API a second copy.
  bundle('resource-server/index.ts', BUNDLE);
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
