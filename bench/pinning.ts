// Keeps the server and the load generator off each other's cores: this process (the load
// generator) moves to CPU 0 and the server is started on the others, where taskset exists and
// there are at least two cores. Without it, autocannon's CPU would count against the server.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { hasTaskset } from '../test/helpers/server-process.ts';

export interface Pinning {
  /** The taskset CPU list for the server; undefined when nothing is pinned. */
  serverCpus: string | undefined;
  /** One line for a report. */
  description: string;
}

export function pinLoadGenerator(): Pinning {
  const cpuCount = os.cpus().length;
  if (!hasTaskset() || cpuCount < 2) return { serverCpus: undefined, description: 'none (taskset missing or one core)' };
  const serverCpus = cpuCount === 2 ? '1' : `1-${cpuCount - 1}`;
  execFileSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' });
  return { serverCpus, description: `load generator on CPU 0, server on CPU ${serverCpus}` };
}
