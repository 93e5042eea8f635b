/** The project's root directory. */
export declare const ROOT: string;
/** Writes `contents` beside `file` and renames it over it. */
export declare function writeAtomically(file: string, contents: string | Uint8Array): void;
/** Bundles `entry` (relative to the project) into `outfile` for plain Node; returns `outfile`. */
export declare function bundle(entry: string, outfile: string): string;
/** Whether every output exists and is newer than every source under `sourceDirs` and package-lock.json. */
export declare function upToDate(outputs: string[], sourceDirs: string[]): boolean;
