import { randomUUID } from 'node:crypto';
import type { SessionEvent, SessionRecord } from '@vigil/core';
import { Client, type ClientConfig, escapeIdentifier, type Notification } from 'pg';
import { reconnectDelay } from './connection.js';

export type RemoteEventListener = (event: SessionEvent) => void;

/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (default build). */
export const NOTIFY_PAYLOAD_LIMIT = 7999;

/**
 * What crosses NOTIFY. `event`: the whole event. `partial`: the event without its session record
 * (too big to send: attributes), which the receiver re-reads by `id`. `ref`: only type, id and
 * time (even without the record the event was too big: a `heartbeat.sleeping` with large
 * `params`, which are then not carried).
 */
type Envelope =
  | { origin: string; event: SessionEvent }
  | { origin: string; id: string; partial: Omit<SessionEvent, 'session'> }
  | { origin: string; id: string; ref: { type: SessionEvent['type']; at: number } };

/** The NOTIFY payload for an event: the whole event when it fits, else less (see `Envelope`). */
export function encodeEvent(origin: string, event: SessionEvent): string {
  const fits = (text: string) => Buffer.byteLength(text, 'utf8') <= NOTIFY_PAYLOAD_LIMIT;
  const whole = JSON.stringify({ origin, event } satisfies Envelope);
  if (fits(whole)) return whole;
  const { session, ...rest } = event;
  const partial = JSON.stringify({ origin, id: session.id, partial: rest } satisfies Envelope);
  if (fits(partial)) return partial;
  return JSON.stringify({
    origin,
    id: session.id,
    ref: { type: event.type, at: event.at },
  } satisfies Envelope);
}

export interface RemoteEventsOptions {
  /** Settings for the listening connection (the pool's). */
  clientConfig: ClientConfig;
  channel: string;
  /** Reads a session as stored, for events too big to carry their record; null once purged. */
  reread: (id: string) => Promise<SessionRecord | null>;
  onError: (error: unknown) => void;
  /** How often the listening connection proves it is alive, in ms. Default 5000. */
  healthCheckMs?: number;
}

/**
 * Cross-node events over LISTEN/NOTIFY, one channel per schema. Each store instance is a node with a
 * random id; it hears every other node's events but not its own (those its process already
 * delivered locally). NOTIFY reaches the sessions listening at that moment: a node that is
 * reconnecting misses what was sent meanwhile, which is acceptable for pushes (SSE/WebSocket
 * clients re-check on reconnect) and never for the session state itself, which lives in the table.
 *
 * The listener is a connection of its own, outside the pool (a pooled connection is shared and
 * returned; a listening one must stay), made on the first listener. It is checked every few
 * seconds, and when it is lost it is made again, with backoff, and LISTENs again.
 */
export class RemoteEvents {
  readonly origin = randomUUID();
  readonly #options: Required<RemoteEventsOptions>;
  readonly #listeners = new Set<RemoteEventListener>();
  #client: Client | undefined;
  #listening = false;
  #waiting: (() => void)[] = [];
  #started = false;
  #closed = false;
  #attempt = 0;
  #retry: NodeJS.Timeout | undefined;
  #health: NodeJS.Timeout | undefined;

  constructor(options: RemoteEventsOptions) {
    this.#options = { healthCheckMs: 5000, ...options };
  }

  on(listener: RemoteEventListener): () => void {
    this.#listeners.add(listener);
    this.#start();
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Resolves once this node is listening (now, or as soon as its connection is back). */
  ready(): Promise<void> {
    this.#start();
    if (this.#listening) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  get listening(): boolean {
    return this.#listening;
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    clearTimeout(this.#retry);
    clearInterval(this.#health);
    const client = this.#client;
    this.#client = undefined;
    this.#listening = false;
    client?.end().catch(() => {});
  }

  #start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new Client(this.#options.clientConfig);
    this.#client = client;
    client.on('error', (error) => {
      this.#options.onError(error);
      this.#lost(client);
    });
    client.on('end', () => this.#lost(client));
    client.on('notification', (message) => this.#deliver(message));
    try {
      await client.connect();
      await client.query(`LISTEN ${escapeIdentifier(this.#options.channel)}`);
    } catch (error) {
      this.#options.onError(error);
      this.#lost(client);
      return;
    }
    if (this.#client !== client) return; // closed or lost meanwhile
    this.#attempt = 0;
    this.#listening = true;
    for (const resolve of this.#waiting.splice(0)) resolve();
    // A connection can die silently (a network that drops packets instead of refusing): ask it
    // something now and then, so that a dead one is noticed and replaced within seconds.
    this.#health = setInterval(() => {
      client.query('SELECT 1').catch((error: unknown) => {
        this.#options.onError(error);
        this.#lost(client);
      });
    }, this.#options.healthCheckMs);
    this.#health.unref();
  }

  #lost(client: Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#listening = false;
    clearInterval(this.#health);
    client.end().catch(() => {});
    if (this.#closed) return;
    this.#retry = setTimeout(() => void this.#connect(), reconnectDelay(this.#attempt++));
    this.#retry.unref();
  }

  #deliver(message: Notification): void {
    if (message.channel !== this.#options.channel || message.payload === undefined) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(message.payload) as Envelope;
    } catch (error) {
      this.#options.onError(error);
      return;
    }
    if (envelope.origin === this.origin) return;
    if ('event' in envelope) {
      this.#emit(envelope.event);
      return;
    }
    const rest = 'partial' in envelope ? envelope.partial : envelope.ref;
    this.#options.reread(envelope.id).then(
      (session) => {
        // Purged meanwhile: there is nothing left to tell anyone about.
        if (session !== null) this.#emit({ ...rest, session } as SessionEvent);
      },
      (error: unknown) => this.#options.onError(error),
    );
  }

  #emit(event: SessionEvent): void {
    if (typeof event?.type !== 'string') return;
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#options.onError(error);
      }
    }
  }
}
