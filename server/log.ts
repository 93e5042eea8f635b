// Structured logs (pino): one JSON object per line on stdout, `LOG_LEVEL`, `LOG_FORMAT=pretty` for
// development. Every line written for a request carries its request id (`requestId`, from
// http/request-context.ts, passed by the caller), so a provider event and the request's own line
// can be told together.
//
// What never reaches a log: a token, code, secret, password, cookie or Authorization header (we
// log names and ids, never values), and a SQL statement's bound values (database errors carry the
// statement with its placeholders; errors are reduced to type, message, code and stack, so a
// PostgreSQL error's `detail`, which quotes the row, is never written).
import pino from 'pino';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, error?: unknown, fields?: Record<string, unknown>): void;
  /** Writes out what is buffered (before the process exits). */
  flush(): void;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'json' | 'pretty';
  /** Tests and the CLI's --json output: nothing at all. */
  quiet?: boolean;
  /** Where lines go (default stdout). */
  destination?: pino.DestinationStream;
}

/** An error as it may be logged: what went wrong and where, no data it carried. */
export function safeError(error: unknown): Record<string, unknown> | string {
  if (!(error instanceof Error)) return error === undefined ? 'undefined' : String(error).slice(0, 500);
  const code = (error as { code?: unknown }).code;
  const cause = (error as { cause?: unknown }).cause;
  return {
    type: error.name,
    message: error.message,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    stack: error.stack,
    ...(cause instanceof Error ? { cause: safeError(cause) } : {}),
  };
}

function prettyStream(): pino.DestinationStream {
  try {
    // A development convenience, resolved only when asked for (it is a dev dependency).
    return pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } });
  } catch {
    throw new Error('LOG_FORMAT=pretty needs the pino-pretty package (npm install); use LOG_FORMAT=json otherwise');
  }
}

export function createLogger({ level = 'info', format = 'json', quiet = false, destination }: LoggerOptions = {}): Logger {
  // Asynchronous writes (lines written while one is pending go out together); flush() before exiting.
  const stream = destination ?? (format === 'pretty' && !quiet ? prettyStream() : pino.destination({ dest: 1, sync: false }));
  const logger = pino(
    {
      level: quiet ? 'silent' : level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return {
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, error, fields) => logger.error({ ...fields, ...(error === undefined ? {} : { error: safeError(error) }) }, message),
    flush: () => {
      const flushable = stream as { flushSync?: () => void };
      try {
        flushable.flushSync?.();
      } catch {
        // not ready yet (nothing written): nothing to flush
      }
    },
  };
}
