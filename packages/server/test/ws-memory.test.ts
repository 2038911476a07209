import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ManualClock, MemoryStore, resolveConfig, SessionEvents } from '@vigil/core';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/index.js';
import { API_KEY, bearer, createSession, logCapture, TEST_CONFIG } from './helpers.js';
import { SocketClient } from './ws-client.js';

/**
 * What an open `/v1/ws` socket keeps in memory: once upgraded it needs none of its upgrade request
 * — not the `IncomingMessage`, not the placeholder `ServerResponse` @fastify/websocket binds to the
 * socket, not Fastify's `Request`/`Reply` nor the request's logger. Held past the upgrade they cost
 * about 3.5 KB per socket (bench/ws.mjs). Each is watched with a `WeakRef` and must be collected by
 * a full GC while every socket is still open and still answers.
 */

// The runner gives every file the same flags, so `gc` is exposed here rather than with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SOCKETS = 40;

const apps: FastifyInstance[] = [];
after(async () => {
  for (const app of apps) await app.close();
});

/** Like helpers' `makeApp`, but with a chance to watch each upgrade's objects before `ready()`. */
async function listenWatching(watch: (label: string, target: object) => void) {
  const logs = logCapture();
  const app = await buildApp({
    apiKey: API_KEY,
    sweeper: false,
    config: resolveConfig(TEST_CONFIG),
    store: new MemoryStore(),
    clock: new ManualClock(),
    events: new SessionEvents(),
    logger: { level: 'info', stream: logs.stream },
  });
  apps.push(app);
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers.upgrade === undefined) return;
    watch('Fastify Request', request);
    watch('Fastify Reply', reply);
    watch('request logger', request.log);
    watch('ServerResponse', reply.raw);
  });
  app.server.on('upgrade', (request: IncomingMessage) => watch('IncomingMessage', request));
  await app.ready();
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base, logs: logs.lines };
}

/** How many of the watched objects of each kind a full GC could not collect. */
async function survivors(
  watched: { label: string; ref: WeakRef<object> }[],
): Promise<Record<string, number>> {
  // A WeakRef keeps its target for the rest of the task that dereferenced it: collect in fresh tasks.
  for (let round = 0; round < 3; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  const left: Record<string, number> = {};
  for (const { label, ref } of watched)
    left[label] = (left[label] ?? 0) + (ref.deref() === undefined ? 0 : 1);
  return left;
}

describe('GET /v1/ws: memory per open socket', () => {
  test('the upgrade request, its response, Fastify Request/Reply and logger are released while sockets stay open', async () => {
    const watched: { label: string; ref: WeakRef<object> }[] = [];
    const { app, base, logs } = await listenWatching((label, target) =>
      watched.push({ label, ref: new WeakRef(target) }),
    );
    const clients: SocketClient[] = [];
    for (let i = 0; i < SOCKETS; i++) {
      const { token } = await createSession(app, { subject: `user-${i}` });
      const client = await SocketClient.open(base, bearer(token));
      await client.next('status');
      clients.push(client);
    }
    // A browser-style socket that authenticates with its first message holds nothing more either.
    const { token } = await createSession(app, { subject: 'browser' });
    const browser = await SocketClient.open(base);
    browser.send({ type: 'auth', token });
    await browser.next('status');
    clients.push(browser);

    const kinds = ['IncomingMessage', 'ServerResponse', 'Fastify Request', 'Fastify Reply', 'request logger'];
    assert.equal(watched.length, kinds.length * (SOCKETS + 1), 'every upgrade was watched');
    const none = Object.fromEntries(kinds.map((kind) => [kind, 0]));
    assert.deepEqual(await survivors(watched), none);

    // Still open and served after the release: a heartbeat on each socket is answered.
    for (const client of clients) {
      assert.equal(client.closed, null);
      const answer = await client.heartbeat();
      assert.equal(answer.type, 'status');
    }

    // A transport error on a released socket is still handled (logged, closed by `ws` with its code),
    // not thrown as an unhandled 'error' event.
    const oversized = clients[0] as SocketClient;
    oversized.send(JSON.stringify({ type: 'heartbeat', state: 'active', pad: 'x'.repeat(70 * 1024) }));
    assert.equal((await oversized.closing()).code, 1009);
    const errorLine = logs.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'websocket error');
    assert.ok(errorLine, 'the socket error was logged');
    assert.equal(typeof errorLine.reqId, 'string', 'with the upgrade request id');
    assert.equal((clients[1] as SocketClient).closed, null);
    assert.equal((await (clients[1] as SocketClient).heartbeat()).type, 'status');

    for (const client of clients) client.close();
  });
});
