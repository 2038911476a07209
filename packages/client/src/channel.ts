import type { HeartbeatBody, Outcome } from './transport.js';

/**
 * What a push channel (WebSocket, SSE) tells whoever opened it: the server's events as they come, and
 * its end. Whether it ever worked (a first status) is for the opener to see.
 */
export interface ChannelHandlers {
  /** An event by its name (`status`, `warning`, `extended`, `ended`) with its JSON data. */
  message(type: string, data: { reason?: string }): void;
  /** It closed, by either side. Called once. */
  closed(): void;
}

export interface Channel {
  /** Sends a heartbeat on the channel, if it can carry one now; else undefined (use HTTP). */
  beat?(body: HeartbeatBody): Promise<Outcome> | undefined;
  close(): void;
}
