export declare const ROOT: string;
export declare const SERVER_BUNDLE: string;
export declare function buildServer(): string;
