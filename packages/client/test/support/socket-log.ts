import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import type { SeenRequest } from './browser.js';

const watched = new WeakSet<object>();

/**
 * Notes each heartbeat that arrives on a `/v1/ws` socket in the server's request log, beside the HTTP
 * ones: method `WS`, path `/v1/heartbeat`, and the status code its HTTP twin would have had (200 once
 * the server answered it with a status, 503 for an `error`, null while unanswered or when the socket
 * was closed instead). `server` is the Fastify instance of the `/v1/ws` route (`request.server`),
 * which holds the plugin's WebSocket server.
 */
export function logSocketHeartbeats(server: FastifyInstance, requests: SeenRequest[]): void {
  const wss = (server as unknown as { websocketServer?: WebSocketServer }).websocketServer;
  if (!wss || watched.has(wss)) return;
  watched.add(wss);
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const referer = request.headers.referer;
    const tab = referer ? new URL(referer).searchParams.get('tab') : null;
    const unanswered = new Map<unknown, SeenRequest>();
    socket.on('message', (data: RawData) => {
      const message = parse(String(data));
      if (message?.type !== 'heartbeat') return;
      const seen: SeenRequest = {
        method: 'WS',
        path: '/v1/heartbeat',
        state: typeof message.state === 'string' ? message.state : null,
        warning: typeof message.warning === 'string' ? message.warning : null,
        tab,
        statusCode: null,
        at: Date.now(),
      };
      requests.push(seen);
      unanswered.set(message.requestId, seen);
    });
    const send = socket.send.bind(socket);
    socket.send = ((data: string, ...rest: unknown[]) => {
      const frame = parse(String(data));
      const seen = unanswered.get(frame?.requestId);
      if (seen && frame) {
        unanswered.delete(frame.requestId);
        seen.statusCode = frame.type === 'status' ? 200 : 503;
      }
      return (send as (...args: unknown[]) => void)(data, ...rest);
    }) as typeof socket.send;
  });
}

function parse(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
