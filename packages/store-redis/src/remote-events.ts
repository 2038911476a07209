import { randomUUID } from 'node:crypto';
import type { SessionEvent } from '@vigil/core';
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './connection.js';

export type RemoteEventListener = (event: SessionEvent) => void;

interface Envelope {
  origin: string;
  event: SessionEvent;
}

/**
 * Cross-node events over Redis pub/sub, one channel per key prefix. Each store instance is a node
 * with a random id; it hears every other node's events but not its own (those its process already
 * delivered locally). Pub/sub is fire-and-forget: a node that is disconnected at the moment misses
 * the message, which is acceptable for pushes (SSE/WebSocket clients re-check on reconnect) and
 * never for the session state itself, which lives in the store.
 *
 * The subscriber is a second connection (a connection in subscriber mode can run nothing else),
 * made on the first listener; it keeps its offline queue and resubscribes after reconnecting.
 */
export class RemoteEvents {
  readonly origin = randomUUID();
  readonly #client: RedisClient;
  readonly #channel: string;
  readonly #onError: (error: unknown) => void;
  readonly #listeners = new Set<RemoteEventListener>();
  #subscriber: RedisClient | undefined;
  #subscribed: Promise<void> | undefined;

  constructor(client: RedisClient, channel: string, onError: (error: unknown) => void) {
    this.#client = client;
    this.#channel = channel;
    this.#onError = onError;
  }

  on(listener: RemoteEventListener): () => void {
    this.#listeners.add(listener);
    this.#start();
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Resolves once the subscription is active (messages published after that are delivered). */
  ready(): Promise<void> {
    this.#start();
    return this.#subscribed ?? Promise.resolve();
  }

  async publish(event: SessionEvent): Promise<void> {
    const envelope: Envelope = { origin: this.origin, event };
    await this.#client.publish(this.#channel, JSON.stringify(envelope));
  }

  close(): void {
    this.#listeners.clear();
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  #start(): void {
    if (this.#subscriber !== undefined) return;
    const subscriber = duplicateForSubscribing(this.#client);
    this.#subscriber = subscriber;
    subscriber.on('error', this.#onError);
    subscriber.on('message', (channel: string, message: string) => this.#deliver(channel, message));
    this.#subscribed = subscriber.subscribe(this.#channel).then(() => undefined);
    this.#subscribed.catch(this.#onError);
  }

  #deliver(channel: string, message: string): void {
    if (channel !== this.#channel) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(message) as Envelope;
    } catch (error) {
      this.#onError(error);
      return;
    }
    if (envelope.origin === this.origin || typeof envelope.event?.type !== 'string') return;
    for (const listener of this.#listeners) {
      try {
        listener(envelope.event);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}

/** A connection like the store's, but that waits for the server instead of failing fast. */
function duplicateForSubscribing(client: RedisClient): RedisClient {
  const patient = { enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null };
  if (client instanceof Cluster) {
    return client.duplicate(undefined, {
      enableOfflineQueue: true,
      redisOptions: { ...client.options.redisOptions, ...patient },
    });
  }
  return (client as Redis).duplicate(patient);
}
