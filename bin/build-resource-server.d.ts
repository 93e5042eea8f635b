/** Builds dist/resource-server/ (index.js and its .d.ts declarations) from resource-server/; returns the bundle's path. */
export declare function buildResourceServer(): string;
