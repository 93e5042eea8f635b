// The benchmarks' server entry: the same server as `npm start` (server/run.ts) with the
// benchmark instrumentation (bench/instrumentation.ts): BENCH_MODE=memory|knex, /bench/stats.
// Built into dist/bench/server.js by bin/build-server.js; the production bundle contains none of
// it, and this entry refuses NODE_ENV=production.
import { runServer } from '../server/run.ts';
import { benchInstrumentation, readBenchMode } from './instrumentation.ts';

runServer({
  instrument: (db, config) => benchInstrumentation(db, readBenchMode(process.env, config.env === 'production')),
});
