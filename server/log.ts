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

/** How long a line may wait for others to share its write, and how much may wait. */
const BATCH_WINDOW_MS = 25;
const BATCH_BYTES = 64 * 1024;

/**
 * Lines leave in batches: the first line of a batch starts a 25 ms window, and everything logged
 * in it goes out in one write at its end (at once when 64 KiB have gathered). Each asynchronous
 * write is a trip through the thread pool and a wake-up of the reader at the other end of
 * stdout; batched per event-loop turn, as before, a busy server still wrote about once per
 * request, which cost a W2 introspection some 10–30 µs of its ~200 (bench/README.md). A line
 * now waits at most 25 ms; flushSync() and the process's 'exit' event (process.exit, an uncaught
 * exception) write out what is waiting. Only a kill that runs no JavaScript (SIGKILL, the OOM
 * killer) can lose lines: those of the last 25 ms.
 */
function batched(stream: pino.DestinationStream & { flushSync(): void }): pino.DestinationStream & { flushSync(): void } {
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const handOver = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending === '') return;
    const lines = pending;
    pending = '';
    stream.write(lines);
  };
  const flushSync = () => {
    handOver();
    stream.flushSync();
  };
  process.once('exit', () => {
    try {
      flushSync();
    } catch {
      // nothing was ever written (the stream never opened): nothing to flush
    }
  });
  return {
    write(line: string) {
      pending += line;
      if (pending.length >= BATCH_BYTES) handOver();
      // Unref'd: a waiting line never keeps the process alive; exit flushes it.
      else timer ??= setTimeout(handOver, BATCH_WINDOW_MS).unref();
    },
    flushSync,
  };
}

/** pino's ISO timestamp, formatted once per millisecond rather than once per line. */
function isoTimePerMillisecond(): () => string {
  let at = -1;
  let field = '';
  return () => {
    const now = Date.now();
    if (now !== at) {
      at = now;
      field = `,"time":"${new Date(now).toISOString()}"`;
    }
    return field;
  };
}

/** stdout: pretty for development, else JSON lines written asynchronously in batches (flush() before exiting). */
function defaultDestination(format: 'json' | 'pretty', quiet: boolean): pino.DestinationStream {
  if (format === 'pretty' && !quiet) return prettyStream();
  const stdout = pino.destination({ dest: 1, sync: false });
  // Quiet (tests, the CLI's --json): nothing is ever written, so no batching and no exit hook.
  return quiet ? stdout : batched(stdout);
}

export function createLogger({ level = 'info', format = 'json', quiet = false, destination }: LoggerOptions = {}): Logger {
  const stream = destination ?? defaultDestination(format, quiet);
  const logger = pino(
    {
      level: quiet ? 'silent' : level,
      base: undefined,
      timestamp: isoTimePerMillisecond(),
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
