import { retryDelay } from './backoff.js';
import type { Channel, ChannelHandlers } from './channel.js';
import { openEventStream } from './event-stream.js';
import { openSocket } from './socket-channel.js';
import type { PushContext, PushEvent, PushUpgrade, Transport } from './transport.js';

/** A channel the server pushes events on: `/v1/ws` (heartbeats go on it too) or `/v1/events`. */
export type PushChannel = 'websocket' | 'sse';

export interface PushChannelsOptions {
  /**
   * Best first; default `['websocket', 'sse']`. HTTP is always the last resort: reads and logout use
   * it, and heartbeats while no socket is open.
   */
  channels?: ReadonlyArray<PushChannel>;
  /** Default the global `WebSocket`; missing (an old browser, Node 20): no `websocket`. */
  WebSocket?: typeof WebSocket | undefined;
}

/**
 * Push for `createVigil({ push })`: the leader tab holds the best of `channels` that works, so the
 * server's `warning`, `extended` and `ended` (an admin's revocation) reach every tab at once instead
 * of at the next heartbeat. A subpath export of its own (`@vigil/client/push`): an app that does
 * without ships none of it.
 */
export function pushChannels(options: PushChannelsOptions = {}): PushUpgrade {
  return (http, context) =>
    withPush(http, {
      ...context,
      channels: options.channels ?? ['websocket', 'sse'],
      WebSocket: options.WebSocket ?? globalThis.WebSocket,
    });
}

interface PushOptions extends PushContext {
  channels: ReadonlyArray<PushChannel>;
  WebSocket: typeof WebSocket | undefined;
}

/**
 * Gives an HTTP transport the push channels of `options.channels`. `listen()` opens the best one;
 * one that fails before it ever worked gives way to the next at once. A channel that worked and then
 * closed is reopened, best first, after a backoff; while a lesser one is in use, the better ones are
 * tried again after a growing backoff. Heartbeats go over the socket while one is usable, else HTTP:
 * the app sees the same statuses and events whichever carries them.
 */
function withPush(http: Transport, options: PushOptions): Transport {
  const { timers, WebSocket: Socket } = options;
  const openers = options.channels.flatMap((kind) =>
    kind === 'websocket' && Socket
      ? [(on: ChannelHandlers) => openSocket(options, Socket, on)]
      : kind === 'sse'
        ? [(on: ChannelHandlers) => openEventStream(options, on)]
        : [],
  );
  let current: Channel | undefined;

  return {
    ...http,
    heartbeat: (body) => current?.beat?.(body) ?? http.heartbeat(body),
    listen(onEvent) {
      /** The index of the channel in use; `openers.length` for none. */
      let level = openers.length;
      let attempt = 0;
      let timer: unknown;
      let probe: Channel | undefined;
      let stopped = false;

      const later = (): void => {
        timers.clearTimeout(timer);
        timer = timers.setTimeout(
          () => tryFrom(0),
          retryDelay(attempt++, options.retry, null, options.random),
        );
      };
      const tryFrom = (i: number): void => {
        if (i >= level) {
          if (level) later();
          return;
        }
        /** A channel works once the server's first status arrives (authenticated, not blocked). */
        let worked = false;
        const channel: Channel = (openers[i] as (typeof openers)[0])({
          message(type, data) {
            if (stopped) return channel.close();
            if (type === 'ended') return onEvent({ kind: 'ended', reason: data.reason ?? 'unauthenticated' });
            if (!worked) {
              worked = true;
              const old = current;
              current = channel;
              probe = undefined;
              old?.close();
              level = i;
              if (i) later();
              else attempt = 0;
            }
            // A status (`isSessionStatus` checks it before use), named by why it was sent.
            onEvent({ kind: type, status: data } as PushEvent);
          },
          closed() {
            if (stopped) return;
            if (channel === current) {
              current = undefined;
              level = openers.length;
              later();
            } else if (!worked) {
              tryFrom(i + 1);
            }
          },
        });
        probe = channel;
      };

      tryFrom(0);
      return () => {
        stopped = true;
        timers.clearTimeout(timer);
        probe?.close();
        current?.close();
        current = undefined;
      };
    },
  };
}
