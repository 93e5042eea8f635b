// Closing the listener at shutdown stops new connections, not new requests on connections
// already open: a client with a keep-alive pool (a load balancer, an API's introspection client)
// keeps sending on those, so the server is never idle, the shutdown waits the whole
// SHUTDOWN_TIMEOUT and then cuts whatever is in flight (seen in test/ops/graceful-shutdown.test.ts:
// exit after 11 s, the last requests cut). So once the listener closes, every answer says
// `Connection: close`, and Node ends its connection after it (the client's next request opens a
// new connection, which is refused, and it goes elsewhere); a connection whose answer went out
// without it is closed as soon as it falls idle. Closing an idle kept-alive connection can still
// cross a request the client is just sending on it, as at every keep-alive timeout: the server
// never read that request, and clients retry it (Node's ClientRequest.reusedSocket).
import type http from 'node:http';

export interface ClosingConnections {
  /** Call for every request, before handling it. */
  track(res: http.ServerResponse): void;
  /** Closes the listener and then every connection once its answer is out; `closed` runs when all are gone. */
  close(server: http.Server, closed: () => void): void;
}

export function closingConnections(): ClosingConnections {
  const inFlight = new Set<http.ServerResponse>();
  let closing: http.Server | undefined;
  const last = (res: http.ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };
  return {
    track(res) {
      if (closing) last(res);
      inFlight.add(res);
      res.once('close', () => {
        inFlight.delete(res);
        // An answer that still went out saying keep-alive (its headers were sent before the
        // close, or an error handler dropped ours): close its connection once Node has finished
        // with it (closeIdleConnections never touches a request being handled).
        if (closing) setImmediate(() => closing?.closeIdleConnections());
      });
    },
    close(server, closed) {
      closing = server;
      for (const res of inFlight) last(res);
      server.close(() => closed());
      server.closeIdleConnections();
    },
  };
}
