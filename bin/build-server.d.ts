/** Builds dist/server/index.js from the sources; returns its path. */
export declare function buildServer(): string;
