import type { AddressInfo } from 'node:net';
import {
  type ConfigInput,
  ManualClock,
  MemoryStore,
  resolveConfig,
  type SessionEvent,
  SessionEvents,
  type Store,
} from '@vigil/core';
import { buildApp } from '@vigil/server';
import express from 'express';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import {
  localChecker,
  remoteChecker,
  type SessionChecker,
  type VigilOptions,
  vigilExpress,
  vigilFastify,
} from '../src/index.js';

export const API_KEY = 'test-api-key-0123456789';

/** Short policies so that timeouts happen in a few manual-clock steps; a short storeTimeout for hangs. */
export const TEST_CONFIG: ConfigInput = {
  policies: {
    default: { idleTimeout: '10s', absoluteTimeout: '1m', warnBefore: '2s' },
    admin: { idleTimeout: '5s', absoluteTimeout: '30s', warnBefore: '1s' },
  },
  storeTimeout: '150ms',
};

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
 * Where sessions live for one test: a real Vigil server (created sessions, the reference answers)
 * over a store that can be broken, and the checker under test — in this process against the same
 * store (`local`), or over HTTP against that server listening on a port (`remote`).
 */
export interface Backend {
  mode: 'local' | 'remote';
  clock: ManualClock;
  store: Store & { mode: FaultMode };
  checker: SessionChecker;
  /** The Vigil server (listening on a port in remote mode). */
  server: FastifyInstance;
  /** Events emitted by the checker (local) or the server (remote). */
  seen: SessionEvent[];
  createSession(body?: Record<string, unknown>): Promise<{ token: string; id: string }>;
  /** What the server itself answers for this token on `GET /v1/session` (touches nothing). */
  serverRead(token: string): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

export async function makeBackend(
  mode: 'local' | 'remote',
  options: { config?: ConfigInput; checker?: Record<string, unknown> } = {},
): Promise<Backend> {
  const clock = new ManualClock();
  const store = faultyStore();
  const config = resolveConfig(options.config ?? TEST_CONFIG);
  const seen: SessionEvent[] = [];
  const serverEvents = new SessionEvents();
  const server = await buildApp({
    apiKey: API_KEY,
    config,
    store,
    clock,
    events: serverEvents,
    sweeper: false,
  });
  let checker: SessionChecker;
  if (mode === 'local') {
    const events = new SessionEvents();
    events.on((event) => seen.push(event));
    checker = localChecker({ store, config, clock, events, ...options.checker });
  } else {
    serverEvents.on((event) => seen.push(event));
    await server.listen({ host: '127.0.0.1', port: 0 });
    checker = remoteChecker({ url: `http://127.0.0.1:${portOf(server)}`, ...options.checker });
  }
  return {
    mode,
    clock,
    store,
    checker,
    server,
    seen,
    async createSession(body = { subject: 'alice' }) {
      const response = await server.inject({
        method: 'POST',
        url: '/v1/sessions',
        headers: { authorization: `Bearer ${API_KEY}` },
        payload: body,
      });
      if (response.statusCode !== 201)
        throw new Error(`create failed: ${response.statusCode} ${response.body}`);
      const { token, session } = response.json();
      return { token, id: session.id };
    },
    async serverRead(token) {
      const response = await server.inject({
        method: 'GET',
        url: '/v1/session',
        headers: { authorization: `Bearer ${token}` },
      });
      return { status: response.statusCode, body: response.json() };
    },
    async close() {
      await server.close();
      await store.close();
    },
  };
}

export function portOf(app: FastifyInstance): number {
  return (app.server.address() as AddressInfo).port;
}

/** Options for the app under test, minus the checker, with the request type left to each framework. */
export interface AppOptions {
  passivePaths?: string[];
  cookieName?: string;
  /** Requests with `X-Poll: 1` are passive, through the `passive` callback. */
  passiveByCallback?: boolean;
}

/**
 * An app under test, listening on a real port. Guarded routes live under `/api` (`/api/data`,
 * `/api/poll/…`, `/api/boom` throws); `/public` is not guarded. Each guarded route answers
 * `req.vigil` as JSON.
 */
export interface TestApp {
  url: string;
  close(): Promise<void>;
}

export type Framework = {
  name: 'express' | 'fastify';
  start(checker: SessionChecker, options?: AppOptions): Promise<TestApp>;
};

function sharedOptions<Req extends { headers: Record<string, unknown> }>(
  checker: SessionChecker,
  options: AppOptions,
): VigilOptions<Req> {
  return {
    checker,
    ...(options.passivePaths !== undefined && { passivePaths: options.passivePaths }),
    ...(options.cookieName !== undefined && { cookieName: options.cookieName }),
    ...(options.passiveByCallback === true && { passive: (req: Req) => req.headers['x-poll'] === '1' }),
  };
}

export const expressFramework: Framework = {
  name: 'express',
  async start(checker, options = {}) {
    const app = express();
    app.get('/public', (_req, res) => {
      res.json({ public: true, vigil: _req.vigil ?? null });
    });
    // Mounted under a prefix: passive paths still match the whole path (`/api/poll/…`).
    app.use('/api', vigilExpress(sharedOptions<express.Request>(checker, options)));
    app.get(['/api/data', '/api/poll/status', '/api/notifications'], (req, res) => {
      res.json(req.vigil);
    });
    app.get('/api/boom', () => {
      throw new Error('route failure');
    });
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ handledBy: 'app', message: error.message });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  },
};

export const fastifyFramework: Framework = {
  name: 'fastify',
  async start(checker, options = {}) {
    const app = Fastify();
    app.setErrorHandler((error: Error, _request, reply) => {
      return reply.code(500).send({ handledBy: 'app', message: error.message });
    });
    app.get('/public', async (request) => ({ public: true, vigil: request.vigil ?? null }));
    // Guarded scope: the plugin skips encapsulation, so it guards this scope's routes only.
    await app.register(
      async function guarded(scope) {
        await scope.register(vigilFastify, sharedOptions<FastifyRequest>(checker, options));
        for (const path of ['/data', '/poll/status', '/notifications']) {
          scope.get(path, async (request) => request.vigil);
        }
        scope.get('/boom', async () => {
          throw new Error('route failure');
        });
      },
      { prefix: '/api' },
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    return { url: `http://127.0.0.1:${portOf(app)}`, close: () => app.close() };
  },
};

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? null : JSON.parse(text) };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The error code of an answer, after checking the shape every error must have. */
export function errorOf(answer: Answer): { code: string; message: string; reason?: string } {
  const body = answer.body as { error?: { code?: unknown; message?: unknown } } | null;
  if (typeof body?.error?.code !== 'string' || typeof body.error.message !== 'string') {
    throw new Error(`not an error body: ${JSON.stringify(answer.body)}`);
  }
  return body.error as { code: string; message: string; reason?: string };
}
