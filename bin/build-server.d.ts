/** Builds dist/server/index.js from the sources; returns its path. */
export declare function buildServer(): string;
/** Builds dist/bench/server.js (the server with the benchmark instrumentation); returns its path. */
export declare function buildBenchServer(): string;
/** Builds dist/cli/latchkey.js (the operator CLI for installs without tsx); returns its path. */
export declare function buildCli(): string;
