// The benchmark still works: a short run of every workload against the in-memory baseline and
// SQLite, asserting correctness (no errors, tokens valid), never speed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.ts';

it('npm run bench -- --smoke completes without errors', async () => {
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/run.ts'), '--smoke'], { cwd: ROOT, env: { ...process.env, NODE_ENV: 'development' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (exitCode) => resolve({ code: exitCode, output }));
  });
  expect(code, output.slice(-3000)).toBe(0);
  expect(output).toContain('| W1 client_credentials | sqlite |');
  expect(output).toContain('smoke: ok');
}, 240_000);
