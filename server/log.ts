// Minimal structured logging to stdout/stderr: one line per event, never a secret or token value.
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, error?: unknown): void;
}

export function createLogger({ quiet = false }: { quiet?: boolean } = {}): Logger {
  const line = (level: string, message: string, fields?: Record<string, unknown>) =>
    `${new Date().toISOString()} ${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`;
  return {
    info(message, fields) {
      if (!quiet) console.log(line('info', message, fields));
    },
    warn(message, fields) {
      console.warn(line('warn', message, fields));
    },
    error(message, error) {
      const detail = error instanceof Error ? (error.stack ?? error.message) : error === undefined ? '' : String(error);
      console.error(line('error', message), detail);
    },
  };
}
