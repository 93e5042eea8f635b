// The benchmark still works: a short run of every workload against the in-memory baseline and
// SQLite, and of W1–W3 against bare oidc-provider (the second baseline), and of the data-growth
// run, asserting correctness (no errors, tokens valid), never speed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.ts';

function smokeRun(script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), '--smoke'], { cwd: ROOT, env: { ...process.env, NODE_ENV: 'development' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (exitCode) => resolve({ code: exitCode, output }));
  });
}

it('npm run bench -- --smoke completes without errors', async () => {
  const { code, output } = await smokeRun('bench/run.ts');
  expect(code, output.slice(-3000)).toBe(0);
  expect(output).toContain('| W1 client_credentials | sqlite |');
  expect(output).toContain('| W3 refresh (rotation) | bare |');
  expect(output).toContain('smoke: ok');
}, 240_000);

it('npm run bench:growth -- --smoke completes without errors', async () => {
  const { code, output } = await smokeRun('bench/growth.ts');
  expect(code, output.slice(-3000)).toBe(0);
  expect(output).toMatch(/\| large table, purging [\d,]+ expired rows \|/);
}, 240_000);
