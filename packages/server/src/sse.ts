import type { ServerResponse } from 'node:http';
import type { Clock, SessionEvent, SessionEvents, SessionRecord, SessionStatus } from '@vigil/core';

export interface SseOptions {
  /** A comment line this often keeps proxies from closing an idle stream (default 15 s). */
  pingIntervalMs?: number;
  /** Streams per session; opening one more closes the oldest (default 10). */
  maxStreamsPerSession?: number;
  /** Bytes a stream may have unsent before it is closed as too slow (default 64 KB). */
  maxBufferedBytes?: number;
}

export interface EventStreamsOptions extends SseOptions {
  events: SessionEvents;
  clock: Clock;
  /** The status a client is shown for a record, now (policy lookup lives in the service). */
  statusOf: (record: SessionRecord, now: number) => SessionStatus;
}

/** What `/v1/events` sends: a name and a JSON object. */
type Frame =
  | { event: 'status' | 'warning' | 'extended'; data: SessionStatus }
  | { event: 'ended'; data: EndedData };
interface EndedData {
  reason: string;
  endedAt: string;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // nginx buffers proxied responses by default, which would hold events back.
  'x-accel-buffering': 'no',
} as const;

class Stream {
  readonly sessionId: string;
  response: ServerResponse | null = null;
  /** Frames that arrived while the stream was being opened (its first status not yet read). */
  pending: Frame[] | null = [];
  closed = false;

  constructor(sessionId: string) {
    this.sessionId = sessionId;
  }
}

/**
 * The open `/v1/events` streams, indexed by session id so that an event costs O(1) lookups, not a
 * walk over every stream. It listens to the app's `SessionEvents` bus and nothing else, so events
 * another node publishes onto that bus (a cross-node store) reach this node's streams unchanged.
 */
export class EventStreams {
  readonly #bySession = new Map<string, Set<Stream>>();
  readonly #clock: Clock;
  readonly #statusOf: EventStreamsOptions['statusOf'];
  readonly #maxPerSession: number;
  readonly #maxBuffered: number;
  readonly #unsubscribe: () => void;
  readonly #ping: NodeJS.Timeout;
  #count = 0;

  constructor(options: EventStreamsOptions) {
    this.#clock = options.clock;
    this.#statusOf = options.statusOf;
    this.#maxPerSession = options.maxStreamsPerSession ?? 10;
    this.#maxBuffered = options.maxBufferedBytes ?? 64 * 1024;
    this.#unsubscribe = options.events.on((event) => this.#onEvent(event));
    // One timer for all streams: a comment line is never an event, so it never counts as activity.
    this.#ping = setInterval(() => this.#pingAll(), options.pingIntervalMs ?? 15_000).unref();
  }

  /** Streams open now (a gauge). */
  get size(): number {
    return this.#count;
  }

  /**
   * Opens a stream for a session. `readStatus` decides whether it may open (it throws `401`/`503`
   * before anything is sent); the stream is registered first, so an event that lands while the
   * status is being read is kept and sent right after it, not lost.
   */
  async open(
    sessionId: string,
    readStatus: () => Promise<SessionStatus>,
    attach: () => ServerResponse,
  ): Promise<void> {
    const stream = new Stream(sessionId);
    this.#add(stream);
    let status: SessionStatus;
    try {
      status = await readStatus();
    } catch (error) {
      this.#remove(stream);
      throw error;
    }
    const response = attach();
    response.writeHead(200, SSE_HEADERS);
    if (stream.closed) {
      // Pushed out by newer streams of its session while opening: it still gets its status, then ends.
      response.end(`event: status\ndata: ${JSON.stringify(status)}\n\n`);
      return;
    }
    response.on('close', () => this.#close(stream));
    // A write to a connection that has gone emits 'error' on the response: that only ends the stream.
    response.on('error', () => this.#close(stream));
    stream.response = response;
    if (response.socket === null || response.socket.destroyed) {
      // The client left while the status was being read: 'close' has already fired.
      this.#close(stream);
      return;
    }
    const pending = stream.pending ?? [];
    stream.pending = null;
    this.#write(stream, { event: 'status', data: status });
    for (const frame of pending) this.#write(stream, frame);
  }

  /** Ends every stream (the app is closing: open streams would hold `close()` forever). */
  closeAll(): void {
    for (const streams of this.#bySession.values()) for (const stream of streams) this.#close(stream);
  }

  stop(): void {
    clearInterval(this.#ping);
    this.#unsubscribe();
    this.closeAll();
  }

  #onEvent(event: SessionEvent): void {
    const streams = this.#bySession.get(event.session.id);
    if (streams === undefined) return;
    let frame: Frame;
    switch (event.type) {
      case 'session.warning':
      case 'session.extended':
        frame = {
          event: event.type === 'session.warning' ? 'warning' : 'extended',
          data: this.#statusOf(event.session, this.#clock.now()),
        };
        break;
      case 'session.expired':
      case 'session.revoked': {
        const { reason, endedAt } = event.session;
        frame = {
          event: 'ended',
          data: { reason: reason ?? 'revoked', endedAt: new Date(endedAt ?? event.at).toISOString() },
        };
        break;
      }
      default:
        return;
    }
    for (const stream of [...streams]) this.#write(stream, frame);
  }

  #write(stream: Stream, frame: Frame): void {
    if (stream.closed) return;
    if (stream.pending !== null) {
      stream.pending.push(frame);
      return;
    }
    const response = stream.response;
    if (response === null) return;
    response.write(`event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`);
    if (frame.event === 'ended' || response.writableLength > this.#maxBuffered) this.#close(stream);
  }

  #pingAll(): void {
    for (const streams of this.#bySession.values()) {
      for (const stream of streams) {
        const response = stream.response;
        if (response === null || stream.closed) continue;
        response.write(': ping\n\n');
        if (response.writableLength > this.#maxBuffered) this.#close(stream);
      }
    }
  }

  #add(stream: Stream): void {
    let streams = this.#bySession.get(stream.sessionId);
    if (streams === undefined) {
      streams = new Set();
      this.#bySession.set(stream.sessionId, streams);
    }
    // A Set iterates in insertion order: the first stream is the oldest.
    while (streams.size >= this.#maxPerSession) {
      const oldest = streams.values().next();
      if (oldest.done) break;
      this.#close(oldest.value);
    }
    streams.add(stream);
    this.#count++;
  }

  #close(stream: Stream): void {
    if (!stream.closed) {
      stream.closed = true;
      stream.response?.end();
    }
    this.#remove(stream);
  }

  #remove(stream: Stream): void {
    stream.closed = true;
    const streams = this.#bySession.get(stream.sessionId);
    if (streams?.delete(stream)) {
      this.#count--;
      if (streams.size === 0) this.#bySession.delete(stream.sessionId);
    }
  }
}
