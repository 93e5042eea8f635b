// A loopback load balancer for scale-out tests: one URL (the issuer every instance is configured
// with) in front of several instances, without sticky sessions. The test decides where each
// request goes: `route` picks an instance per request (round-robin by default), and a request
// may name one itself with the `x-balancer-target` header (stripped before forwarding). Like a
// real balancer it appends the peer address to X-Forwarded-For. Every forwarded request is
// recorded, so a test can show that a flow really crossed instances.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const TARGET_HEADER = 'x-balancer-target';
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

export interface Forwarded {
  method: string;
  path: string;
  /** Index of the instance that got it. */
  to: number;
  status?: number;
}

export interface Balancer {
  url: string;
  /** Picks the instance for a request without the target header; the default alternates. */
  route: (request: { method: string; path: string }) => number;
  /** Every request forwarded so far, in arrival order. */
  forwarded: Forwarded[];
  close(): Promise<void>;
}

export function roundRobin(count: number): () => number {
  let next = 0;
  return () => {
    const to = next;
    next = (next + 1) % count;
    return to;
  };
}

export async function startBalancer(backends: string[]): Promise<Balancer> {
  // No keep-alive towards the instances: a request must reach the instance chosen for it, not
  // one an earlier request happened to leave a socket open to.
  const agent = new http.Agent({ keepAlive: false });
  const balancer: Balancer = { url: '', route: roundRobin(backends.length), forwarded: [], close: async () => undefined };

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const named = req.headers[TARGET_HEADER];
    const to = named === undefined ? balancer.route({ method, path }) : Number(named);
    const backend = backends[to];
    if (backend === undefined) {
      res.writeHead(502).end(`no backend ${String(to)}`);
      return;
    }
    const record: Forwarded = { method, path, to };
    balancer.forwarded.push(record);
    const headers = { ...req.headers };
    delete headers[TARGET_HEADER];
    for (const name of HOP_BY_HOP) delete headers[name];
    const peer = req.socket.remoteAddress ?? '127.0.0.1';
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${String(headers['x-forwarded-for'])}, ${peer}` : peer;
    const upstream = http.request(`${backend}${path}`, { method, headers, agent }, (answer) => {
      record.status = answer.statusCode;
      // Raw pairs keep repeated headers (Set-Cookie) as they were; hop-by-hop ones stay behind.
      const pairs: string[] = [];
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        const name = answer.rawHeaders[i] as string;
        if (!HOP_BY_HOP.has(name.toLowerCase())) pairs.push(name, answer.rawHeaders[i + 1] as string);
      }
      res.writeHead(answer.statusCode ?? 502, pairs);
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502).end(`backend ${to}: ${error.message}`);
      else res.destroy(error);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  balancer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  balancer.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  };
  return balancer;
}
