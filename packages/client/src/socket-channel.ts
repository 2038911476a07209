import type { Channel, ChannelHandlers } from './channel.js';
import { NETWORK_ERROR, type Outcome, type TransportOptions, tokenOf, urlOf } from './transport.js';

/** The close code for "this session ended" (the reason is the close reason) or an unknown token. */
const SESSION_ENDED = 4401;

/**
 * `GET /v1/ws`: heartbeats out, their answers and the server's pushes in. A browser cannot put
 * `Authorization` on a WebSocket, so a token goes in a first `auth` message (a cookie goes along with
 * the upgrade). The socket is usable once the server's first status arrives. Ping/pong is the
 * browser's own business: an open socket never sends a heartbeat by itself.
 */
export function openSocket(
  options: TransportOptions,
  Socket: typeof WebSocket,
  on: ChannelHandlers,
): Channel {
  const waiting = new Map<unknown, (outcome: Outcome) => void>();
  let closed = false;
  let sent = 0;
  let socket: WebSocket | undefined;

  const close = (code?: number, reason?: string): void => {
    if (closed) return;
    closed = true;
    socket?.close();
    const ended = code === SESSION_ENDED && (reason || 'unauthenticated');
    // A heartbeat the socket took with it is retried (over HTTP, or the next socket) by the caller.
    for (const settle of waiting.values()) settle(ended ? { kind: 'ended', reason: ended } : NETWORK_ERROR);
    waiting.clear();
    if (ended) on.message('ended', { reason: ended });
    on.closed();
  };

  try {
    const url = new URL(urlOf(options, '/v1/ws'), globalThis.location?.href);
    url.protocol = url.protocol.replace('http', 'ws');
    socket = new Socket(url);
  } catch {
    // Blocked (a policy, a wrapper that refuses): failed before it was ever usable.
    queueMicrotask(() => close());
    return { close };
  }
  const send = (message: object): void => socket?.send(JSON.stringify(message));
  socket.onopen = () => {
    const token = tokenOf(options);
    if (token) send({ type: 'auth', token });
  };
  socket.onmessage = ({ data }: MessageEvent) => {
    if (closed) return;
    const { type, requestId, error, ...rest } = JSON.parse(String(data));
    const settle = waiting.get(requestId);
    if (settle) {
      waiting.delete(requestId);
      // `error`: the store could not answer this heartbeat, as a `503` would say.
      settle(
        type === 'status'
          ? { kind: 'ok', status: rest }
          : { kind: 'retry', retryAfterMs: error?.retryAfterMs ?? null, httpStatus: 503 },
      );
    } else if (type !== 'error') {
      on.message(type, rest);
    }
  };
  socket.onclose = ({ code, reason }: CloseEvent) => close(code, reason);

  return {
    // Only asked once the channel has worked (its first status), and never after it closed.
    beat(body) {
      if (closed) return undefined;
      return new Promise((resolve) => {
        const requestId = ++sent;
        // A socket that does not answer in time is dead: it is closed, and the next one opened.
        const timeout = options.timers.setTimeout(close, options.timeoutMs);
        waiting.set(requestId, (outcome) => {
          options.timers.clearTimeout(timeout);
          resolve(outcome);
        });
        send({ type: 'heartbeat', ...body, requestId });
      });
    },
    close,
  };
}
