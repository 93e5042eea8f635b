#!/usr/bin/env node
// `npx latchkey ...`: the operator CLI. Where tsx is installed (a development checkout) it runs the
// TypeScript sources, so a change needs no build; a production install (`npm ci --omit=dev`) has
// no tsx and runs the bundle `npm run build` made (dist/cli/latchkey.js).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = path.join(ROOT, 'dist', 'cli', 'latchkey.js');

let tsx;
try {
  tsx = await import('tsx/esm/api');
} catch {
  tsx = undefined;
}
if (tsx) {
  tsx.register();
  await import('../cli/latchkey.ts');
} else if (fs.existsSync(BUNDLE)) {
  await import(pathToFileURL(BUNDLE).href);
} else {
  console.error('latchkey: no CLI bundle in dist/ and no tsx to run the sources: run `npm run build` first');
  process.exit(1);
}
