// The options every load benchmark takes, parsed and checked in one place.
import { parseArgs } from 'node:util';

export interface LoadOptions {
  smoke: boolean;
  duration: number;
  repetitions: number;
  connections: number;
  warmup: number;
  /** Concurrent browser-less flows (W4). */
  flows: number;
  /**
   * NODE_OPTIONS for the Knex servers only (e.g. "--max-old-space-size=1024" to see what a heap
   * cap trades), never for the baseline: a cap that slowed the baseline would flatter the ratios.
   */
  serverNodeOptions: string;
  /** Which workloads to run (default all), e.g. --workloads W1,W2 for a quicker A/B. */
  workloads: string[];
  /** `npm run bench -- --scale-out`: one instance against two on one PostgreSQL (bench/scale-out.ts). */
  scaleOut: boolean;
}

/**
 * `--duration --repetitions --connections --warmup --flows --server-node-options --workloads --smoke --scale-out`; smoke
 * runs `smokeSeconds` once.
 */
export function loadOptions(smokeSeconds: number): LoadOptions {
  const { values: args } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      repetitions: { type: 'string', default: '3' },
      connections: { type: 'string', default: '32' },
      warmup: { type: 'string', default: '2' },
      flows: { type: 'string', default: '4' },
      'server-node-options': { type: 'string', default: '' },
      workloads: { type: 'string', default: 'W1,W2,W3,W4' },
      smoke: { type: 'boolean', default: false },
      'scale-out': { type: 'boolean', default: false },
    },
  });
  const smoke = args.smoke === true;
  const options = {
    smoke,
    duration: smoke ? smokeSeconds : Number(args.duration),
    repetitions: smoke ? 1 : Number(args.repetitions),
    connections: Number(args.connections),
    warmup: smoke ? 0 : Number(args.warmup),
    flows: Number(args.flows),
    serverNodeOptions: (args['server-node-options'] ?? '').trim(),
    workloads: (args.workloads ?? '').split(',').map((name) => name.trim()).filter(Boolean),
    scaleOut: args['scale-out'] === true,
  };
  const unknown = options.workloads.filter((name) => !/^W[1-4]$/.test(name));
  if (options.workloads.length === 0 || unknown.length > 0) throw new Error(`--workloads takes a list of W1, W2, W3, W4; got ${JSON.stringify(args.workloads)}`);
  for (const name of ['duration', 'repetitions', 'connections', 'flows'] as const) {
    if (!Number.isInteger(options[name]) || options[name] < 1) throw new Error(`--${name} must be a whole number ≥ 1`);
  }
  if (!(options.warmup >= 0)) throw new Error('--warmup must be a number of seconds ≥ 0');
  return options;
}
