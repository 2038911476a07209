import type { HeartbeatBody, Outcome, PushEvent } from './transport.js';

/** What a push channel (WebSocket, SSE) tells whoever opened it. */
export interface ChannelHandlers {
  /** The server's first status arrived: the channel works (authenticated, not blocked). */
  ready(): void;
  event(event: PushEvent): void;
  /** It closed, by either side; `wasReady` says whether it ever worked. Called once. */
  closed(wasReady: boolean): void;
}

export interface Channel {
  /** Sends a heartbeat on the channel, if it can carry one now; else undefined (use HTTP). */
  beat?(body: HeartbeatBody): Promise<Outcome> | undefined;
  close(): void;
}

/**
 * Hands one server event on, by its name and JSON: `ended` with its reason, anything else as a
 * status (`isSessionStatus` checks it before use). The first status makes the channel ready.
 * Returns whether it is now.
 */
export function deliver(
  on: ChannelHandlers,
  type: string,
  value: { reason?: string },
  ready: boolean,
): boolean {
  if (type === 'ended') {
    on.event({ kind: 'ended', reason: value.reason ?? 'unauthenticated' });
    return ready;
  }
  if (!ready) on.ready();
  on.event({ kind: type, status: value } as PushEvent);
  return true;
}
