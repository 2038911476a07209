import { Writable } from 'node:stream';
import {
  type ConfigInput,
  ERROR_TABLE,
  ManualClock,
  MemoryStore,
  resolveConfig,
  type SessionEvent,
  SessionEvents,
  type Store,
} from '@vigil/core';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { type AppOptions, buildApp } from '../src/index.js';

export const API_KEY = 'test-api-key-0123456789';
export const backend = { authorization: `Bearer ${API_KEY}` };
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Short policies so that timeouts happen in a few manual-clock steps. */
export const TEST_CONFIG: ConfigInput = {
  policies: {
    default: { idleTimeout: '10s', absoluteTimeout: '1m', warnBefore: '2s' },
    admin: { idleTimeout: '5s', absoluteTimeout: '30s', warnBefore: '1s', maxSessions: 2 },
  },
};

export interface TestApp {
  app: FastifyInstance;
  clock: ManualClock;
  store: Store;
  events: SessionEvents;
  /** Every event emitted, in order. */
  seen: SessionEvent[];
}

export async function makeApp(
  options: { config?: ConfigInput; store?: Store } & Partial<Omit<AppOptions, 'config' | 'store'>> = {},
): Promise<TestApp> {
  const clock = (options.clock as ManualClock | undefined) ?? new ManualClock();
  const store = options.store ?? new MemoryStore();
  const events = options.events ?? new SessionEvents();
  const seen: SessionEvent[] = [];
  events.on((event) => seen.push(event));
  const app = await buildApp({
    apiKey: API_KEY,
    sweeper: false,
    ...options,
    config: resolveConfig(options.config ?? TEST_CONFIG),
    store,
    clock,
    events,
  });
  await app.ready();
  return { app, clock, store, events, seen };
}

export async function createSession(
  app: FastifyInstance,
  body: Record<string, unknown> = { subject: 'alice' },
): Promise<{ token: string; id: string }> {
  const response = await app.inject({ method: 'POST', url: '/v1/sessions', headers: backend, payload: body });
  if (response.statusCode !== 201) throw new Error(`create failed: ${response.statusCode} ${response.body}`);
  const { token, session } = response.json();
  return { token, id: session.id };
}

export function heartbeat(
  app: FastifyInstance,
  token: string,
  body: Record<string, unknown> = { state: 'active' },
) {
  return app.inject({ method: 'POST', url: '/v1/heartbeat', headers: bearer(token), payload: body });
}

/** The error code of an answer, after checking the shape every error must have. */
export function errorCode(response: LightMyRequestResponse): string {
  const body = response.json();
  if (typeof body?.error?.code !== 'string' || typeof body.error.message !== 'string') {
    throw new Error(`not an error body: ${response.body}`);
  }
  if (!(body.error.code in ERROR_TABLE)) throw new Error(`unknown error code ${body.error.code}`);
  return body.error.code;
}

export type FaultMode = 'ok' | 'throw' | 'hang';

/** A store that can be made to fail (reject) or hang (never answer) on every call. */
export function faultyStore(inner: Store = new MemoryStore()): Store & { mode: FaultMode } {
  const wrapper = { mode: 'ok' as FaultMode } as Store & { mode: FaultMode };
  for (const name of [
    'create',
    'get',
    'touch',
    'end',
    'endAllForSubject',
    'listBySubject',
    'claimExpired',
    'claimWarnings',
    'purgeEnded',
    'countLive',
    'ping',
  ] as const) {
    (wrapper as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      if (wrapper.mode === 'throw')
        return Promise.reject(new Error('connection refused to db.internal:5432'));
      if (wrapper.mode === 'hang') return new Promise(() => {});
      return (inner[name] as (...a: unknown[]) => Promise<unknown>).apply(inner, args);
    };
  }
  wrapper.close = () => inner.close();
  return wrapper;
}

/**
 * A memory store whose session reads (or, with `'touch'`, touches) wait, from `hold()` on, until
 * `release()`: to have close() begin while a request is in the middle of one, or a heartbeat be in
 * flight while more arrive. `reached` settles when a call is waiting.
 */
export class GatedStore extends MemoryStore {
  readonly #gated: 'get' | 'touch';
  #gate: Promise<void> | null = null;
  #open: () => void = () => {};
  #arrived: () => void = () => {};
  readonly reached = new Promise<void>((resolve) => {
    this.#arrived = resolve;
  });

  constructor(gated: 'get' | 'touch' = 'get') {
    super();
    this.#gated = gated;
  }

  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  release(): void {
    this.#open();
    this.#gate = null;
  }

  override async get(...args: Parameters<MemoryStore['get']>): ReturnType<MemoryStore['get']> {
    if (this.#gated === 'get') await this.#wait();
    return super.get(...args);
  }

  override async touch(...args: Parameters<MemoryStore['touch']>): ReturnType<MemoryStore['touch']> {
    if (this.#gated === 'touch') await this.#wait();
    return super.touch(...args);
  }

  async #wait(): Promise<void> {
    if (this.#gate === null) return;
    this.#arrived();
    await this.#gate;
  }
}

/** Collects pino's output lines. */
export function logCapture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  return { stream, lines };
}
