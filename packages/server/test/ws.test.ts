import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { type ConfigInput, systemClock } from '@vigil/core';
import type { FastifyInstance } from 'fastify';
import {
  backend,
  bearer,
  createSession,
  faultyStore,
  GatedStore,
  heartbeat,
  makeApp,
  TEST_CONFIG,
  type TestApp,
} from './helpers.js';
import { RefusedUpgrade, refusal, SocketClient } from './ws-client.js';

/**
 * `/v1/ws` over real sockets (`listen` + the `ws` package as the client). Deadlines are checked on
 * the injectable clock; pushes and closes are awaited with short bounded waits.
 */

const apps: FastifyInstance[] = [];
after(async () => {
  for (const app of apps) await app.close();
});

async function listen(options: Parameters<typeof makeApp>[0] = {}): Promise<TestApp & { base: string }> {
  const t = await makeApp(options);
  apps.push(t.app);
  const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...t, base };
}

async function adminView(app: FastifyInstance, id: string) {
  return (await app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend })).json();
}

async function socketsGauge(app: FastifyInstance): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  return Number(/^vigil_ws_sockets (\d+)$/m.exec(text)?.[1]);
}

async function gaugeBecomes(app: FastifyInstance, value: number): Promise<void> {
  const deadline = Date.now() + 2000;
  while ((await socketsGauge(app)) !== value && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(await socketsGauge(app), value);
}

/** A status without what differs between two sessions (their id and subject). */
function deadlinesOf(status: Record<string, unknown>) {
  const { id: _id, subject: _subject, type: _type, requestId: _requestId, at: _at, ...rest } = status;
  return rest;
}

describe('GET /v1/ws: opening and authentication', () => {
  test('an unknown or ended token is refused at the upgrade with 401 JSON; a plain GET is 400', async () => {
    const t = await listen();
    const { token, id } = await createSession(t.app);

    const unknown = await refusal(t.base, bearer(`vgl_${'A'.repeat(43)}`));
    assert.equal(unknown.status, 401);
    assert.equal((unknown.body.error as Record<string, unknown>).code, 'unauthenticated');
    const apiKey = await refusal(t.base, backend);
    assert.equal(apiKey.status, 401, 'the API key is not a session token');

    await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    const ended = await refusal(t.base, bearer(token));
    assert.equal(ended.status, 401);
    assert.deepEqual(
      [
        (ended.body.error as Record<string, unknown>).code,
        (ended.body.error as Record<string, unknown>).reason,
      ],
      ['session_ended', 'revoked'],
    );

    const plain = await fetch(`${t.base}/v1/ws`);
    assert.equal(plain.status, 400);
    assert.equal((await plain.json()).error.code, 'bad_request');
    assert.equal(await socketsGauge(t.app), 0);
  });

  test('the first status comes at once and opening touches nothing', async () => {
    const t = await listen();
    const { token, id } = await createSession(t.app);
    const before = await adminView(t.app, id);
    t.clock.advance(1000);
    const client = await SocketClient.open(t.base, bearer(token));
    await client.next('status');
    const [first] = client.messages;
    assert.equal(first?.id, id);
    assert.equal(first?.requestId, undefined);
    assert.equal(first?.idleExpiresInMs, 9000, 'the deadline the session had, one second later');
    const afterOpen = await adminView(t.app, id);
    assert.equal(afterOpen.lastSeenAt, before.lastSeenAt);
    assert.equal(afterOpen.lastActivityAt, before.lastActivityAt);
    assert.equal(await socketsGauge(t.app), 1);
    client.close();
    await gaugeBecomes(t.app, 0);
  });

  test('a browser authenticates with a first auth message; without one in time the socket closes 4408', async () => {
    const t = await listen({ ws: { authTimeoutMs: 100 } });
    const { token, id } = await createSession(t.app);

    const byMessage = await SocketClient.open(t.base);
    byMessage.send({ type: 'auth', token });
    await byMessage.next('status');
    assert.equal(byMessage.messages[0]?.id, id);
    const answer = await byMessage.heartbeat({ state: 'sleeping' });
    assert.equal(answer.type, 'status');
    // The auth timer was cleared: the socket outlives it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(byMessage.closed, null);

    const silent = await SocketClient.open(t.base);
    const closed = await silent.closing();
    assert.deepEqual([closed.code, closed.reason], [4408, 'auth_timeout']);
    assert.deepEqual(silent.messages, []);

    const early = await SocketClient.open(t.base);
    early.send({ type: 'heartbeat', state: 'active' });
    assert.deepEqual(
      [(await early.closing()).code, (await early.closing()).reason],
      [4401, 'unauthenticated'],
    );

    const wrong = await SocketClient.open(t.base);
    wrong.send({ type: 'auth', token: `vgl_${'B'.repeat(43)}` });
    const refused = await wrong.closing();
    assert.deepEqual([refused.code, refused.reason], [4401, 'unauthenticated']);
    assert.deepEqual(wrong.messages, [], 'no status for an unknown token');
    byMessage.close();
  });

  test('the cookie works from the own origin; from another origin it is refused 403 (no cross-site sockets)', async () => {
    const t = await listen({
      config: { ...TEST_CONFIG, cookie: { enabled: true, secure: false } },
    });
    const { token, id } = await createSession(t.app);
    const own = await SocketClient.open(t.base, { cookie: `vigil=${token}`, origin: t.base });
    await own.next('status');
    assert.equal(own.messages[0]?.id, id);
    own.close();

    const foreign = await refusal(t.base, { cookie: `vigil=${token}`, origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal((foreign.body.error as Record<string, unknown>).code, 'csrf_rejected');
    const before = await adminView(t.app, id);
    assert.equal(before.endedAt, undefined);
  });

  test('ws: false serves no WebSocket (clients fall back to SSE and HTTP)', async () => {
    const t = await listen({ ws: false });
    const { token } = await createSession(t.app);
    await assert.rejects(SocketClient.open(t.base, bearer(token)), (error: unknown) => {
      return error instanceof RefusedUpgrade ? error.status === 404 : error instanceof Error;
    });
    assert.equal((await heartbeat(t.app, token)).statusCode, 200);
  });
});

describe('GET /v1/ws: heartbeats and activity', () => {
  test('heartbeats over the socket extend exactly like HTTP ones', async () => {
    const t = await listen();
    const overHttp = await createSession(t.app, { subject: 'http' });
    const overSocket = await createSession(t.app, { subject: 'socket' });
    const client = await SocketClient.open(t.base, bearer(overSocket.token));
    await client.next('status');

    for (const [step, state] of [
      [3000, 'active'],
      [2000, 'sleeping'],
      [4000, 'active'],
      [1500, 'sleeping'],
    ] as const) {
      t.clock.advance(step);
      const http = await heartbeat(t.app, overHttp.token, { state });
      assert.equal(http.statusCode, 200);
      const socket = await client.heartbeat({ state });
      assert.equal(socket.type, 'status');
      assert.equal(socket.id, overSocket.id);
      assert.deepEqual(deadlinesOf(socket), deadlinesOf(http.json()), `after a ${state} heartbeat`);
      const [a, b] = [await adminView(t.app, overHttp.id), await adminView(t.app, overSocket.id)];
      assert.equal(a.lastActivityAt, b.lastActivityAt);
      assert.equal(a.lastSeenAt, b.lastSeenAt);
    }
    // The same heartbeats are counted whatever carried them.
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^vigil_heartbeats_total\{state="active",outcome="ok"\} 4$/m);
    assert.match(metrics, /^vigil_heartbeats_total\{state="sleeping",outcome="ok"\} 4$/m);
    client.close();
  });

  test('an idle user whose socket stays open, pings flowing, is still timed out', async () => {
    const t = await listen({ sweeper: { intervalMs: 20 }, ws: { pingIntervalMs: 20 } });
    const { token, id } = await createSession(t.app);
    const before = await adminView(t.app, id);
    const client = await SocketClient.open(t.base, bearer(token));
    await client.next('status');
    await client.until(() => client.pings >= 5, 2000, 'five pings');
    const afterPings = await adminView(t.app, id);
    assert.equal(afterPings.lastSeenAt, before.lastSeenAt, 'pongs are not even seen');
    assert.equal(afterPings.lastActivityAt, before.lastActivityAt);

    t.clock.advance(10_000);
    const closed = await client.closing();
    assert.deepEqual([closed.code, closed.reason], [4401, 'idle_timeout']);
    const ended = client.of('ended');
    assert.equal(ended.length, 1);
    assert.equal(ended[0]?.reason, 'idle_timeout');
    assert.equal(client.pings >= 5, true);
    assert.equal((await heartbeat(t.app, token)).statusCode, 401);
  });

  test('a client that stops answering pings is dropped; its session is left alone', async () => {
    const t = await listen({ ws: { pingIntervalMs: 30 } });
    const { token, id } = await createSession(t.app);
    const before = await adminView(t.app, id);
    const client = await SocketClient.open(t.base, bearer(token), { autoPong: false });
    await client.next('status');
    const closed = await client.closing(2000);
    assert.equal(closed.code, 1006, 'terminated without a close frame');
    await gaugeBecomes(t.app, 0);
    const after = await adminView(t.app, id);
    assert.equal(after.endedAt, undefined);
    assert.equal(after.lastSeenAt, before.lastSeenAt);
  });

  test('warning when the warning period begins; extended when a socket heartbeat extends it', async () => {
    const t = await listen({ sweeper: { intervalMs: 20 } });
    const { token } = await createSession(t.app);
    const client = await SocketClient.open(t.base, bearer(token));
    await client.next('status');
    t.clock.advance(8000); // warnBefore 2 s of a 10 s idle timeout
    await client.next('warning');
    const [warning] = client.of('warning');
    assert.equal(warning?.state, 'warning');
    assert.equal(warning?.warnInMs, 0);

    const answer = await client.heartbeat({ state: 'active', warning: 'extended' });
    assert.equal(answer.state, 'active');
    await client.next('extended');
    const [extended] = client.of('extended');
    assert.equal(extended?.idleExpiresInMs, 10_000);
    // The push is emitted by the touch itself, before the heartbeat's own answer is sent.
    assert.deepEqual(
      client.messages.map((m) => m.type),
      ['status', 'warning', 'extended', 'status'],
    );
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^vigil_warnings_total\{outcome="extended"\} 1$/m);
    client.close();
  });

  test('a store outage answers a heartbeat with an error message and keeps the socket; recovery needs no reconnect', async () => {
    const store = faultyStore();
    const t = await listen({ store, config: { ...TEST_CONFIG, storeTimeout: '200ms' } as ConfigInput });
    const { token } = await createSession(t.app);
    const client = await SocketClient.open(t.base, bearer(token));
    await client.next('status');
    store.mode = 'throw';
    const failed = await client.heartbeat();
    assert.equal(failed.type, 'error');
    const error = failed.error as Record<string, unknown>;
    assert.equal(error.code, 'store_unavailable');
    assert.equal(typeof error.retryAfterMs, 'number');
    store.mode = 'ok';
    const ok = await client.heartbeat();
    assert.equal(ok.type, 'status');
    assert.equal(client.closed, null);
    client.close();
  });
});

describe('GET /v1/ws: ends and limits', () => {
  test('an admin revocation closes the socket with 4401 revoked within a second; other sessions keep theirs', async () => {
    const t = await listen({ clock: systemClock as never });
    const { token, id } = await createSession(t.app);
    const other = await createSession(t.app, { subject: 'bob' });
    const [first, second] = [
      await SocketClient.open(t.base, bearer(token)),
      await SocketClient.open(t.base, bearer(token)),
    ];
    const bobs = await SocketClient.open(t.base, bearer(other.token));
    await Promise.all([first.next('status'), second.next('status'), bobs.next('status')]);

    const revokedAt = Date.now();
    const revoke = await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    assert.equal(revoke.statusCode, 204);
    for (const client of [first, second]) {
      const closed = await client.closing(1000);
      assert.deepEqual([closed.code, closed.reason], [4401, 'revoked']);
      assert.ok(closed.at - revokedAt < 1000, `closed after ${closed.at - revokedAt} ms`);
      const ended = client.of('ended')[0];
      assert.equal(ended?.reason, 'revoked');
      assert.match(String(ended?.endedAt), /^\d{4}-\d\d-\d\dT/);
    }
    assert.equal(bobs.closed, null);
    assert.equal((await bobs.heartbeat()).type, 'status');
    bobs.close();
  });

  test('malformed, binary, unknown and oversized messages get a clear close and change nothing', async () => {
    const t = await listen();
    const bystander = await createSession(t.app, { subject: 'bystander' });
    const watcher = await SocketClient.open(t.base, bearer(bystander.token));
    await watcher.next('status');

    const cases: Array<[string, (client: SocketClient) => void, number, RegExp]> = [
      ['not JSON', (c) => c.send('{"type":'), 4400, /^malformed: not JSON$/],
      ['an array', (c) => c.send([1, 2]), 4400, /^malformed: not a JSON object$/],
      ['an unknown type', (c) => c.send({ type: 'extend' }), 4400, /^malformed: unknown type$/],
      ['a bad state', (c) => c.send({ type: 'heartbeat', state: 'awake' }), 4400, /state/],
      [
        'params over 4 KB',
        (c) => c.send({ type: 'heartbeat', state: 'active', params: { a: 'x'.repeat(5000) } }),
        4400,
        /params/,
      ],
      ['binary', (c) => c.socket.send(Buffer.from('{}')), 4400, /JSON text/],
      [
        'over 64 KB',
        (c) => c.send({ type: 'heartbeat', state: 'active', pad: 'x'.repeat(70_000) }),
        1009,
        /.*/,
      ],
    ];
    for (const [what, send, code, reason] of cases) {
      const { token, id } = await createSession(t.app, { subject: what.replace(/\W/g, '') });
      const before = await adminView(t.app, id);
      t.clock.advance(100);
      const client = await SocketClient.open(t.base, bearer(token));
      await client.next('status');
      send(client);
      const closed = await client.closing();
      assert.equal(closed.code, code, what);
      assert.match(closed.reason, reason, what);
      assert.equal(client.messages.length, 1, `${what}: nothing but the first status`);
      const after = await adminView(t.app, id);
      assert.equal(after.lastActivityAt, before.lastActivityAt, `${what} is not activity`);
      assert.equal(after.endedAt, undefined, `${what} ends nothing`);
    }
    assert.equal(watcher.closed, null);
    assert.equal((await watcher.heartbeat()).type, 'status', "another session's socket still works");
    watcher.close();
  });

  test('a flood is closed 4429 once past the heartbeat rate limit, which HTTP shares; other sessions unaffected', async () => {
    const t = await listen();
    const { token } = await createSession(t.app);
    const other = await createSession(t.app, { subject: 'bob' });
    const flooder = await SocketClient.open(t.base, bearer(token));
    const bystander = await SocketClient.open(t.base, bearer(other.token));
    await Promise.all([flooder.next('status'), bystander.next('status')]);
    for (let i = 0; i < 15; i++) flooder.send({ type: 'heartbeat', state: 'active', requestId: i });
    const closed = await flooder.closing();
    assert.deepEqual([closed.code, closed.reason], [4429, 'rate_limited']);
    // The default limit: a burst of 10 (the clock stands still, so nothing refills).
    assert.equal(flooder.of('status').length, 1 + 10);
    assert.equal((await heartbeat(t.app, token)).statusCode, 429, 'one bucket per session, both channels');
    assert.equal(bystander.closed, null);
    assert.equal((await bystander.heartbeat()).type, 'status');
    assert.equal((await heartbeat(t.app, other.token)).statusCode, 200);
    bystander.close();
  });

  test('closed 4429 past its limits only after the answers to the heartbeats it served', async () => {
    const store = new GatedStore('touch');
    const t = await listen({ store });
    let servedBefore = 0;
    // 40 heartbeats written at once, so that the server reads them all before it has served the
    // first; then the same with the first one in flight (waiting for the store) while the rest come.
    for (const inFlight of [true, false]) {
      const { token } = await createSession(t.app, { subject: `burst-${inFlight}` });
      const client = await SocketClient.open(t.base, bearer(token));
      await client.next('status');
      let first = 0;
      if (inFlight) {
        store.hold();
        client.send({ type: 'heartbeat', state: 'active', requestId: first++ });
        await store.reached;
      }
      const raw = (client.socket as unknown as { _socket: Socket })._socket;
      raw.cork();
      for (let i = first; i < 40; i++) client.send({ type: 'heartbeat', state: 'active', requestId: i });
      raw.uncork();
      await new Promise((resolve) => setTimeout(resolve, 50));
      store.release();
      const closed = await client.closing();
      assert.deepEqual([closed.code, closed.reason], [4429, 'rate_limited']);
      await new Promise((resolve) => setTimeout(resolve, 100)); // for what was in flight to finish
      const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      const total = /^vigil_heartbeats_total\{state="active",outcome="ok"\} (\d+)$/m.exec(metrics)?.[1];
      const served = Number(total ?? 0) - servedBefore;
      servedBefore += served;
      const answered = client.of('status').slice(1);
      assert.deepEqual(
        [served, answered.map((message) => message.requestId)],
        [10, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
        `in flight: ${inFlight}: the rate limit's burst is served and answered, in order, before the close`,
      );
    }
  });

  test('a malformed message behind a heartbeat in flight is closed 4400 after that heartbeat is answered', async () => {
    const store = new GatedStore('touch');
    const t = await listen({ store });
    const { token } = await createSession(t.app);
    const client = await SocketClient.open(t.base, bearer(token));
    await client.next('status');
    store.hold();
    client.send({ type: 'heartbeat', state: 'active', requestId: 'first' });
    await store.reached;
    client.send('not json');
    client.send({ type: 'heartbeat', state: 'active', requestId: 'after' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    store.release();
    const closed = await client.closing();
    assert.equal(closed.code, 4400);
    assert.deepEqual(
      client.of('status').map((message) => message.requestId),
      [undefined, 'first'],
      'the heartbeat before it is answered, the one after it is not read',
    );
  });

  test('sockets per session are bounded: one more closes the oldest with 4429', async () => {
    const t = await listen({ ws: { maxSocketsPerSession: 2 } });
    const { token } = await createSession(t.app);
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const client = await SocketClient.open(t.base, bearer(token));
      await client.next('status');
      clients.push(client);
    }
    const closed = await clients[0]?.closing();
    assert.deepEqual([closed?.code, closed?.reason], [4429, 'too_many_sockets']);
    assert.equal(clients[1]?.closed, null);
    assert.equal(clients[2]?.closed, null);
    await gaugeBecomes(t.app, 2);
    for (const client of clients) client.close();
  });

  test('a socket whose upgrade was under way when close() began is dropped, and close() finishes', async () => {
    const store = new GatedStore();
    const t = await listen({ store });
    const { token } = await createSession(t.app);
    // The upgrade passes the closing check, then waits in the session read while close() begins.
    store.hold();
    const opening = SocketClient.open(t.base, bearer(token));
    await store.reached;
    const closed = t.app.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    store.release();
    const client = await opening;
    const closedInTime = await Promise.race([
      closed.then(() => true),
      new Promise((resolve) => setTimeout(resolve, 5000, false)),
    ]);
    if (!closedInTime) client.socket.terminate();
    assert.equal(closedInTime, true, 'close() still waits for the late socket');
    assert.equal((await client.closing()).code, 1006);
  });

  test('app.close() closes open sockets with 1001 instead of waiting for their clients', async () => {
    const t = await makeApp();
    const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { token } = await createSession(t.app);
    const client = await SocketClient.open(base, bearer(token));
    const unauthenticated = await SocketClient.open(base);
    await client.next('status');
    const started = Date.now();
    await t.app.close();
    assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`);
    const closed = await client.closing();
    assert.deepEqual([closed.code, closed.reason], [1001, 'shutting_down']);
    assert.equal((await unauthenticated.closing()).code, 1001);
  });
});
