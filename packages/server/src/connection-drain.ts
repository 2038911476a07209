import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The response a socket is serving: the field Node's own `closeIdleConnections()` reads to tell an
 * idle connection from a busy one.
 */
type HttpSocket = Socket & { _httpMessage?: { writableEnded: boolean } | null };

/** How often a closing server looks again for connections that have become idle. */
const SWEEP_INTERVAL_MS = 50;

export interface ConnectionDrain {
  /** A socket another owner closes now (an upgraded WebSocket: the hub closes it with 1001). */
  handOver(socket: Socket): void;
  /**
   * The server is closing: ends every connection that is not serving a response, now and as the
   * others finish, until the server has closed.
   */
  start(): void;
}

/**
 * Lets `close()` finish. Node's `server.close()` ends the keep-alive connections that are idle at
 * that moment, and no other: not one whose response finishes a moment later (it lingers for the
 * keep-alive timeout, 72 s in Fastify), and not one that was accepted but has not sent a request
 * yet, which it keeps forever (seen on Node 20; nodejs/node#63452 reports it on 24). Browsers open such spare connections ahead of need,
 * so a single open tab could hold a graceful shutdown, and `app.close()`, indefinitely.
 */
export function connectionDrain(server: Server): ConnectionDrain {
  const sockets = new Set<HttpSocket>();
  server.on('connection', (socket: HttpSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const sweep = (): void => {
    for (const socket of sockets) {
      const response = socket._httpMessage;
      if (response && !response.writableEnded) continue;
      // After what was written has gone out: an answer just ended is delivered, not cut.
      socket.destroySoon();
      sockets.delete(socket);
    }
  };

  let started = false;
  return {
    handOver: (socket) => {
      sockets.delete(socket);
    },
    start: () => {
      if (started) return;
      started = true;
      sweep();
      const timer = setInterval(sweep, SWEEP_INTERVAL_MS).unref();
      server.once('close', () => clearInterval(timer));
    },
  };
}
