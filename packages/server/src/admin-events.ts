import type { ServerResponse } from 'node:http';
import { adminView, RateLimitedError, type SessionEvent, type SessionEvents } from '@vigil/core';

export interface AdminEventsOptions {
  /** Streams open at once; one more is refused with `429` (default 16). */
  maxStreams?: number;
  /** Bytes a stream may have unsent before it is closed as too slow (default 256 KB). */
  maxBufferedBytes?: number;
  /** A comment line this often keeps proxies from closing an idle stream (default 15 s). */
  pingIntervalMs?: number;
}

/** What the operators' feed carries: every session event but sleeping heartbeats (one per tab per minute). */
export const ADMIN_EVENT_TYPES = [
  'session.created',
  'session.warning',
  'session.extended',
  'session.expired',
  'session.revoked',
] as const;
const FEED = new Set<string>(ADMIN_EVENT_TYPES);

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // nginx buffers proxied responses by default, which would hold events back.
  'x-accel-buffering': 'no',
} as const;

/**
 * The operators' live feed (`GET /v1/admin/events`): every session event of the node's bus (so,
 * with a cross-node store, of the cluster), as Server-Sent Events named after the event type, with
 * `{type, at, session}` (the admin view) as data. An event is serialized once for all streams.
 * Few streams are expected (people watching a dashboard), so the count is capped and a newcomer
 * beyond it is refused rather than pushing someone else out.
 */
export class AdminEventStreams {
  readonly #streams = new Set<ServerResponse>();
  readonly #maxStreams: number;
  readonly #maxBuffered: number;
  readonly #ping: NodeJS.Timeout;
  readonly #unsubscribe: () => void;

  constructor(events: SessionEvents, options: AdminEventsOptions = {}) {
    this.#maxStreams = options.maxStreams ?? 16;
    this.#maxBuffered = options.maxBufferedBytes ?? 256 * 1024;
    this.#unsubscribe = events.on((event) => this.#onEvent(event));
    this.#ping = setInterval(() => this.#broadcast(': ping\n\n'), options.pingIntervalMs ?? 15_000).unref();
  }

  get size(): number {
    return this.#streams.size;
  }

  /** Opens a stream on the response `attach` hands over; throws `429` (before attaching) when full. */
  open(attach: () => ServerResponse): void {
    if (this.#streams.size >= this.#maxStreams) throw new RateLimitedError(5_000);
    const response = attach();
    response.writeHead(200, SSE_HEADERS);
    // A first line at once: the client knows the stream is open before the first event.
    response.write(': open\n\n');
    this.#streams.add(response);
    response.on('close', () => this.#streams.delete(response));
    response.on('error', () => this.#close(response));
    // The client may have left already, in which case 'close' has fired before the listener above.
    if (response.socket === null || response.socket.destroyed) this.#close(response);
  }

  stop(): void {
    clearInterval(this.#ping);
    this.#unsubscribe();
    for (const response of [...this.#streams]) this.#close(response);
  }

  #onEvent(event: SessionEvent): void {
    if (this.#streams.size === 0 || !FEED.has(event.type)) return;
    const data = JSON.stringify({
      type: event.type,
      at: new Date(event.at).toISOString(),
      session: adminView(event.session),
    });
    this.#broadcast(`event: ${event.type}\ndata: ${data}\n\n`);
  }

  #broadcast(frame: string): void {
    for (const response of [...this.#streams]) {
      response.write(frame);
      if (response.writableLength > this.#maxBuffered) this.#close(response);
    }
  }

  #close(response: ServerResponse): void {
    this.#streams.delete(response);
    response.end();
  }
}
