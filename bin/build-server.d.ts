/** Builds dist/server/index.js from the sources; returns its path. */
export declare function buildServer(): string;
/** Builds dist/bench/server.js (the server with the benchmark instrumentation); returns its path. */
export declare function buildBenchServer(): string;
