// The layers as rules: each rule names the files it governs and the imports they may not make,
// and fails with every offending import (file, line, specifier). A newcomer can trust the layout
// because this test keeps it true.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.ts';

interface Import {
  file: string;
  line: number;
  specifier: string;
  /** Repository-relative path for a relative import; the package specifier otherwise. */
  target: string;
}

const SOURCE_DIRS = ['server', 'adapters', 'seeds', 'cli', 'resource-server', 'demo'];
const IMPORT = /(?:^|[\s;])(?:import|export)\s(?:[^'"`;]*?\sfrom\s)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  const absolute = path.join(ROOT, dir);
  if (!fs.existsSync(absolute)) return [];
  return fs.readdirSync(absolute, { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(relative);
    return /\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [relative] : [];
  });
}

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const found: Import[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = (match[1] ?? match[2]) as string;
    const line = text.slice(0, match.index).split('\n').length;
    const target = specifier.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)) : specifier;
    found.push({ file, line, specifier, target });
  }
  return found;
}

const ALL = SOURCE_DIRS.flatMap(sourceFiles).flatMap(importsOf);

function offending(files: (file: string) => boolean, forbidden: (target: string) => boolean): string[] {
  return ALL.filter((i) => files(i.file) && forbidden(i.target)).map((i) => `${i.file}:${i.line} imports ${i.specifier}`);
}

const under = (...dirs: string[]) => (target: string) => dirs.some((dir) => target === dir || target.startsWith(`${dir}/`));
const HTTP_PACKAGES = (target: string) => /^(koa|koa-.+|@koa\/.+|node:http|node:https|http|https)$/.test(target);

describe('layers', () => {
  it('reads the imports it checks (the parser is not blind)', () => {
    expect(ALL.length).toBeGreaterThan(300);
    expect(ALL.some((i) => i.file === 'server/app.ts' && i.target === 'koa')).toBe(true);
    expect(ALL.some((i) => i.file === 'server/app.ts' && i.target === 'server/core.ts')).toBe(true);
  });

  it('adapters/ depends on nothing in server/, seeds/, cli/ or demo/', () => {
    expect(offending(under('adapters'), under('server', 'seeds', 'cli', 'demo', 'bench'))).toEqual([]);
  });

  it('services never see Koa, HTTP, routes or the provider configuration', () => {
    const forbidden = (target: string) =>
      HTTP_PACKAGES(target) || under('server/routes', 'server/http', 'server/oidc', 'server/security', 'server/observability')(target) || ['server/app.ts', 'server/core.ts', 'server/run.ts', 'server/bootstrap.ts', 'server/management.ts'].includes(target);
    expect(offending(under('server/services'), forbidden)).toEqual([]);
  });

  it('bootstrap imports no route or HTTP module', () => {
    expect(offending((file) => file === 'server/bootstrap.ts', (target) => HTTP_PACKAGES(target) || under('server/routes', 'server/http')(target))).toEqual([]);
  });

  it('the server seeds through a service, never from seeds/', () => {
    expect(offending(under('server', 'cli'), under('seeds'))).toEqual([]);
  });

  it('routes reach storage through services, never adapters/ directly', () => {
    expect(offending(under('server/routes', 'server/http'), under('adapters'))).toEqual([]);
  });

  it('latchkey/resource-server stands alone: nothing from the server', () => {
    expect(offending(under('resource-server'), under('server', 'adapters', 'seeds', 'cli'))).toEqual([]);
  });

  it('oidc-provider internals are reached only through server/oidc/internals/', () => {
    expect(offending((file) => !file.startsWith('server/oidc/internals/'), (target) => target.startsWith('oidc-provider/'))).toEqual([]);
  });
});
