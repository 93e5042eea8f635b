// An HTTP client for shutdown tests: every request on a connection of its own (no keep-alive),
// so a request that succeeds proves the listener accepted it, unless a keep-alive pool is given
// (as a load balancer or an API's introspection client keeps one); and a slow variant that sends
// its body a few bytes at a time over a given duration, as a client on a poor network does, so a
// request is honestly in flight for that long. Both record when the answer arrived.
import http from 'node:http';
import { basicAuth } from './server-process.ts';

export interface Call {
  method?: string;
  form?: Record<string, string>;
  json?: unknown;
  basic?: { id: string; secret: string };
  bearer?: string;
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  /** When the complete answer had arrived (performance.now()). */
  at: number;
}

export interface CallError extends NodeJS.ErrnoException {
  /** The request went out on a pooled connection that had served an earlier one. */
  reusedSocket?: boolean;
}

function prepare(call: Call, keepAlive = false): { body: Buffer | undefined; headers: Record<string, string | number> } {
  const text = call.form ? new URLSearchParams(call.form).toString() : call.json === undefined ? undefined : JSON.stringify(call.json);
  const headers: Record<string, string | number> = { accept: 'application/json', ...(keepAlive ? {} : { connection: 'close' }) };
  if (call.form) headers['content-type'] = 'application/x-www-form-urlencoded';
  if (call.json !== undefined) headers['content-type'] = 'application/json';
  if (text !== undefined) headers['content-length'] = Buffer.byteLength(text);
  if (call.basic) headers.authorization = basicAuth(call.basic.id, call.basic.secret);
  if (call.bearer) headers.authorization = `Bearer ${call.bearer}`;
  return { body: text === undefined ? undefined : Buffer.from(text), headers };
}

function answerOf(request: http.ClientRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request.on('error', (error: CallError) => {
      error.reusedSocket = request.reusedSocket;
      reject(error);
    });
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('error', reject);
      response.on('end', () => {
        if (!response.complete) return reject(new Error('answer cut off'));
        let body: Record<string, unknown>;
        try {
          body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          body = { unparsed: text.slice(0, 200) };
        }
        resolve({ status: response.statusCode ?? 0, body, at: performance.now() });
      });
    });
  });
}

/**
 * One request on a new connection (or on `pool`'s, kept alive); rejects with a CallError if the
 * connection is refused or the answer cut.
 */
export function call(url: string, spec: Call = {}, pool?: http.Agent): Promise<Answer> {
  const { body, headers } = prepare(spec, pool !== undefined);
  const request = http.request(url, { method: spec.method ?? (body ? 'POST' : 'GET'), headers, agent: pool ?? false });
  const answer = answerOf(request);
  request.end(body);
  return answer;
}

export interface SlowAnswer extends Answer {
  /** When the last byte of the body was written (performance.now()). */
  lastByteAt: number;
}

/** Sends the headers at once, then the body in `pieces` parts spread over `durationMs` (on `pool`'s connection if given). */
export function slowCall(url: string, spec: Call, { durationMs, pieces = 10, pool }: { durationMs: number; pieces?: number; pool?: http.Agent }): Promise<SlowAnswer> {
  const { body, headers } = prepare(spec, pool !== undefined);
  if (!body) throw new Error('a slow call needs a body');
  const request = http.request(url, { method: spec.method ?? 'POST', headers, agent: pool ?? false });
  request.setNoDelay(true);
  request.flushHeaders();
  const answer = answerOf(request);
  const size = Math.ceil(body.length / pieces);
  return new Promise<SlowAnswer>((resolve, reject) => {
    let sent = 0;
    let lastByteAt = 0;
    const next = () => {
      if (request.destroyed) return;
      const piece = body.subarray(sent, sent + size);
      sent += piece.length;
      if (sent >= body.length) {
        request.end(piece);
        lastByteAt = performance.now();
      } else {
        request.write(piece);
        setTimeout(next, durationMs / pieces);
      }
    };
    setTimeout(next, durationMs / pieces);
    answer.then((done) => resolve({ ...done, lastByteAt }), reject);
  });
}
