// The lines every load benchmark's report starts with: when, on what, how busy.
import os from 'node:os';

export function machineLines(): string[] {
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}`,
    `- load average at start (1/5/15 min): ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`,
  ];
}
