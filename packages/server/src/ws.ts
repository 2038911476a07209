import type { Clock, SessionEvent, SessionEvents, SessionRecord, SessionStatus } from '@vigil/core';
import type { WebSocket } from 'ws';
import { WS_CLOSE } from './ws-protocol.js';

export interface WsOptions {
  /**
   * The server pings every socket this often; one that has not answered the previous ping by the
   * next one is dropped (default 15 s). Pings and pongs never touch a session.
   */
  pingIntervalMs?: number;
  /** Sockets per session; opening one more closes the oldest with `4429` (default 10). */
  maxSocketsPerSession?: number;
  /** How long a socket opened without a credential has to send `{"type":"auth"}` (default 5 s). */
  authTimeoutMs?: number;
  /** Bytes a socket may have unsent before it is dropped as too slow (default 64 KB). */
  maxBufferedBytes?: number;
}

export interface SocketHubOptions extends WsOptions {
  events: SessionEvents;
  clock: Clock;
  /** The status a client is shown for a record, now (policy lookup lives in the service). */
  statusOf: (record: SessionRecord, now: number) => SessionStatus;
}

/** What the server sends: a status (answer or push) and the end. */
export type ServerFrame =
  | ({ type: 'status' | 'warning' | 'extended'; requestId?: string | number } & SessionStatus)
  | { type: 'ended'; reason: string; endedAt: string }
  | {
      type: 'error';
      requestId?: string | number;
      error: { code: string; message: string; retryAfterMs?: number };
    };

/** One open socket and what the hub knows of it. */
export class Connection {
  readonly socket: WebSocket;
  /** The session it speaks for, once authenticated. */
  sessionId: string | null = null;
  /** Pushes that arrived before its first status was sent (they follow it, in order). */
  pending: ServerFrame[] | null = null;
  /** Answered the last ping (or has not been pinged yet). */
  alive = true;
  closed = false;
  authTimer: NodeJS.Timeout | undefined;

  constructor(socket: WebSocket) {
    this.socket = socket;
  }
}

/**
 * The open `/v1/ws` sockets, indexed by session id so an event costs O(1) lookups. Like the SSE
 * streams it listens to the app's `SessionEvents` bus only, so events bridged from other nodes reach
 * this node's sockets unchanged. Liveness is the transport's business (ping/pong, one timer for all
 * sockets); nothing here ever touches a session.
 */
export class SocketHub {
  readonly #all = new Set<Connection>();
  readonly #bySession = new Map<string, Set<Connection>>();
  readonly #clock: Clock;
  readonly #statusOf: SocketHubOptions['statusOf'];
  readonly #maxPerSession: number;
  readonly #maxBuffered: number;
  readonly authTimeoutMs: number;
  readonly #unsubscribe: () => void;
  readonly #ping: NodeJS.Timeout;
  #stopped = false;

  constructor(options: SocketHubOptions) {
    this.#clock = options.clock;
    this.#statusOf = options.statusOf;
    this.#maxPerSession = options.maxSocketsPerSession ?? 10;
    this.#maxBuffered = options.maxBufferedBytes ?? 64 * 1024;
    this.authTimeoutMs = options.authTimeoutMs ?? 5000;
    this.#unsubscribe = options.events.on((event) => this.#onEvent(event));
    this.#ping = setInterval(() => this.#pingAll(), options.pingIntervalMs ?? 15_000).unref();
  }

  /** Sockets open now, authenticated or not (a gauge). */
  get size(): number {
    return this.#all.size;
  }

  /** Takes a socket that has just been upgraded. */
  accept(socket: WebSocket): Connection {
    const connection = new Connection(socket);
    this.#all.add(connection);
    socket.on('pong', () => {
      connection.alive = true;
    });
    socket.on('close', () => this.#forget(connection));
    return connection;
  }

  /**
   * Binds a socket to its session. Pushes for the session are held from here until `ready()`, so an
   * event that lands while the first status is being read is sent right after it, not lost.
   */
  attach(connection: Connection, sessionId: string): void {
    if (connection.closed) return;
    let sockets = this.#bySession.get(sessionId);
    if (sockets === undefined) {
      sockets = new Set();
      this.#bySession.set(sessionId, sockets);
    }
    // A Set iterates in insertion order: the first socket is the oldest.
    while (sockets.size >= this.#maxPerSession) {
      const oldest = sockets.values().next();
      if (oldest.done) break;
      this.close(oldest.value, WS_CLOSE.tooMany, 'too_many_sockets');
    }
    connection.sessionId = sessionId;
    connection.pending = [];
    sockets.add(connection);
  }

  /** Sends the first status, then whatever was held back meanwhile. */
  ready(connection: Connection, status: SessionStatus): void {
    const pending = connection.pending ?? [];
    connection.pending = null;
    this.send(connection, { type: 'status', ...status });
    for (const frame of pending) this.send(connection, frame);
  }

  send(connection: Connection, frame: ServerFrame): void {
    if (connection.closed) return;
    if (connection.pending !== null && frame.type !== 'status') {
      connection.pending.push(frame);
      return;
    }
    const { socket } = connection;
    socket.send(JSON.stringify(frame));
    if (frame.type === 'ended') {
      this.close(connection, WS_CLOSE.sessionEnded, frame.reason);
    } else if (socket.bufferedAmount > this.#maxBuffered) {
      // A reader this far behind would only grow our memory: drop it, it reconnects when it can.
      this.#drop(connection);
    }
  }

  /** `ended`, then close `4401` with the reason (DESIGN: "WebSocket"). */
  end(connection: Connection, reason: string, endedAt: number): void {
    if (connection.pending !== null) connection.pending = null;
    this.send(connection, { type: 'ended', reason, endedAt: new Date(endedAt).toISOString() });
  }

  close(connection: Connection, code: number, reason: string): void {
    if (connection.closed) return;
    this.#forget(connection);
    connection.socket.close(code, reason);
  }

  /**
   * Closes every socket with `code` (the app is closing: an open socket would hold `close()` until
   * its client leaves) and waits up to `graceMs` for the close handshakes; the rest are dropped.
   */
  async closeAll(code: number, reason: string, graceMs: number): Promise<void> {
    const sockets = [...this.#all].map((connection) => connection.socket);
    for (const connection of [...this.#all]) this.close(connection, code, reason);
    const closing = sockets.filter((socket) => socket.readyState !== socket.CLOSED);
    if (closing.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closing.map((socket) => new Promise((resolve) => socket.once('close', resolve)))),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const socket of closing) socket.terminate();
  }

  /** True once the app has begun closing: a socket upgraded from then on must not be served. */
  get stopped(): boolean {
    return this.#stopped;
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#ping);
    this.#unsubscribe();
  }

  #onEvent(event: SessionEvent): void {
    const sockets = this.#bySession.get(event.session.id);
    if (sockets === undefined) return;
    switch (event.type) {
      case 'session.warning':
      case 'session.extended': {
        const type = event.type === 'session.warning' ? 'warning' : 'extended';
        const status = this.#statusOf(event.session, this.#clock.now());
        for (const connection of [...sockets]) this.send(connection, { type, ...status });
        break;
      }
      case 'session.expired':
      case 'session.revoked': {
        const { reason, endedAt } = event.session;
        for (const connection of [...sockets]) this.end(connection, reason ?? 'revoked', endedAt ?? event.at);
        break;
      }
      default:
        break;
    }
  }

  #pingAll(): void {
    for (const connection of this.#all) {
      if (!connection.alive) {
        // No pong since the last ping: the peer or the path to it is gone.
        this.#drop(connection);
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }

  #drop(connection: Connection): void {
    this.#forget(connection);
    connection.socket.terminate();
  }

  #forget(connection: Connection): void {
    connection.closed = true;
    clearTimeout(connection.authTimer);
    this.#all.delete(connection);
    const id = connection.sessionId;
    if (id === null) return;
    const sockets = this.#bySession.get(id);
    if (sockets?.delete(connection) && sockets.size === 0) this.#bySession.delete(id);
  }
}
