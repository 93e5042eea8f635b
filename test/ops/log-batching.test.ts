// Log lines leave stdout in batches (server/log.ts): a line waits up to 25 ms for others to share
// its write. What must hold: nothing logged is lost when the process ends without flushing (an
// exit in the middle of a window, as on a crash), and a lone line still arrives within moments.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.ts';

/** Runs `body` in a child with `log` made by createLogger; resolves with what it wrote to stdout. */
function runChild(body: string): Promise<{ stdout: string; code: number | null }> {
  const script = `import { createLogger } from ${JSON.stringify(path.join(ROOT, 'server', 'log.ts'))};
const log = createLogger({ level: 'info' });
${body}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ stdout, code })));
}

const messages = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { msg: string }).msg);

describe('batched log lines', () => {
  it('an exit in the middle of a batch window still writes every line logged before it', async () => {
    const { stdout, code } = await runChild(`for (let i = 0; i < 3; i += 1) log.info('line ' + i);
log.error('about to fail', new Error('boom'));
process.exit(3);`);
    expect(code).toBe(3);
    expect(messages(stdout)).toEqual(['line 0', 'line 1', 'line 2', 'about to fail']);
  });

  it('a lone line is written, and its waiting window does not hold the process open', async () => {
    const started = Date.now();
    const { stdout, code } = await runChild(`log.info('alone');`);
    expect(code).toBe(0);
    expect(messages(stdout)).toEqual(['alone']);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('many lines logged at once all arrive, in order', async () => {
    const { stdout } = await runChild(`for (let i = 0; i < 5000; i += 1) log.info('n' + i, { padding: 'x'.repeat(40) });
setTimeout(() => {}, 100);`);
    const got = messages(stdout);
    expect(got.length).toBe(5000);
    expect(got[0]).toBe('n0');
    expect(got[4999]).toBe('n4999');
  });
});
