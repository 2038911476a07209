import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { ManualClock, MemoryStore, resolveConfig, Sweeper } from '@vigil/core';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/index.js';
import {
  API_KEY,
  backend,
  bearer,
  createSession,
  faultyStore,
  GatedStore,
  heartbeat,
  logCapture,
  makeApp,
  TEST_CONFIG,
} from './helpers.js';

describe('logs', () => {
  test('no token, API key or cookie in any log line, whatever the request carries', async () => {
    const { stream, lines } = logCapture();
    const t = await makeApp({ logger: { stream, level: 'trace' } });
    const { token, id } = await createSession(t.app);
    await heartbeat(t.app, token);
    await t.app.inject({
      method: 'GET',
      url: '/v1/session',
      headers: { ...bearer(token), cookie: `vigil=${token}` },
    });
    await t.app.inject({ method: 'GET', url: `/v1/sessions/${token}`, headers: backend });
    await t.app.inject({ method: 'GET', url: `/v1/sessions/${API_KEY}?key=${API_KEY}`, headers: backend });
    await t.app.inject({ method: 'GET', url: `/v1/nope/${token}?token=${token}` });
    await t.app.inject({ method: 'GET', url: `/v1/sessions/%E0%A4%A${token}` });
    await t.app.inject({ method: 'GET', url: '/v1/sessions?subject=alice', headers: bearer(token) });
    await t.app.inject({
      method: 'POST',
      url: '/v1/heartbeat',
      headers: backend,
      payload: { state: 'active' },
    });
    await t.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { ...backend, 'content-type': `text/${token}` },
      payload: API_KEY,
    });
    await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    await heartbeat(t.app, token);
    await t.app.close();
    assert.ok(lines.length > 20, `logs were written (${lines.length})`);
    assert.ok(lines.some((line) => line.includes('"statusCode":401')));
    for (const line of lines) {
      assert.ok(!line.includes(token), `token in: ${line}`);
      assert.ok(!line.includes(token.slice(4)), `token body in: ${line}`);
      assert.ok(!line.includes(API_KEY), `API key in: ${line}`);
      assert.ok(!/authorization|cookie/i.test(line) || line.includes('[redacted]'), `header in: ${line}`);
    }
  });

  test('a store failure is logged with its cause for operators, at warn', async () => {
    const { stream, lines } = logCapture();
    const store = faultyStore();
    const t = await makeApp({ store, logger: { stream } });
    const { token } = await createSession(t.app);
    store.mode = 'throw';
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(token) })).statusCode,
      503,
    );
    await t.app.close();
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'store unavailable');
    assert.equal(line?.level, 40);
    assert.equal(line?.cause?.message, 'connection refused to db.internal:5432');
  });
});

/** A listening app with one session, whose session reads wait until `release()`. */
async function listeningWithGatedReads() {
  const store = new GatedStore();
  const t = await makeApp({ store });
  const { token } = await createSession(t.app);
  store.hold();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = t.app.server.address() as AddressInfo;
  return { t, token, port, release: () => store.release() };
}

/** A raw HTTP/1.1 connection: what it has received so far, and its close. */
function rawConnection(port: number) {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk) => {
    received += chunk;
  });
  const ended = new Promise((resolve) => socket.on('close', resolve));
  return { socket, ended, received: () => received };
}

/**
 * Closes the app and tells whether that finished within `ms` (a liveness check: the failure it
 * catches is "never"). When it did not, every connection is cut so that the test fails instead of
 * hanging.
 */
async function closesWithin(app: FastifyInstance, ms: number): Promise<boolean> {
  const closed = app.close();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const inTime = await Promise.race([closed.then(() => true), timeout]);
  clearTimeout(timer);
  if (!inTime) {
    app.server.closeAllConnections();
    await closed;
  }
  return inTime;
}

describe('metrics', () => {
  test('every metric of the contract is present after traffic, labelled by route pattern', async () => {
    const t = await makeApp();
    const sweeper = new Sweeper({ store: t.app.vigil.store, clock: t.clock, events: t.events });
    const a = await createSession(t.app);
    const b = await createSession(t.app, { subject: 'bob', policy: 'admin' });
    const c = await createSession(t.app, { subject: 'carol' });
    await heartbeat(t.app, a.token, { state: 'sleeping' });
    await t.app.inject({ method: 'GET', url: `/v1/sessions/${b.id}`, headers: backend });
    await t.app.inject({ method: 'GET', url: '/nope/xyz' });
    // Warnings: a is extended by the user, c runs out, b signs out.
    t.clock.advance(4500);
    await sweeper.sweep(); // admin (b) warned at 4 s
    await t.app.inject({
      method: 'DELETE',
      url: '/v1/session',
      headers: bearer(b.token),
      payload: { warning: 'signed_out' },
    });
    t.clock.advance(3500);
    await sweeper.sweep(); // default (a, c) warned at 8 s
    await heartbeat(t.app, a.token, { state: 'active', warning: 'extended' });
    t.clock.advance(2000);
    await sweeper.sweep(); // c expires at 10 s
    await heartbeat(t.app, c.token);
    const response = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = response.body;
    for (const expected of [
      'vigil_sessions_created_total{policy="default"} 2',
      'vigil_sessions_created_total{policy="admin"} 1',
      'vigil_sessions_ended_total{reason="logout"} 1',
      'vigil_sessions_ended_total{reason="idle_timeout"} 1',
      'vigil_sessions_live{policy="default"} 1',
      'vigil_sessions_live{policy="admin"} 0',
      'vigil_heartbeats_total{state="sleeping",outcome="ok"} 1',
      'vigil_heartbeats_total{state="active",outcome="ok"} 1',
      'vigil_heartbeats_total{state="active",outcome="ended"} 1',
      'vigil_warnings_total{outcome="signed_out"} 1',
      'vigil_warnings_total{outcome="extended"} 1',
      'vigil_warnings_total{outcome="expired"} 1',
      'vigil_store_errors_total 0',
      'vigil_http_request_duration_seconds_count{route="/v1/sessions/:id"} 1',
      'vigil_http_request_duration_seconds_count{route="/v1/heartbeat"} 3',
      'vigil_http_request_duration_seconds_count{route="not_found"} 1',
    ]) {
      assert.ok(text.includes(expected), `missing: ${expected}`);
    }
    assert.ok(
      !text.includes(b.id) && !text.includes('xyz') && !text.includes('alice'),
      'no ids, raw URLs or subjects',
    );
    await t.app.close();
  });
});

describe('response schemas', () => {
  test('shared schemas drop fields they do not name', async () => {
    const t = await makeApp();
    const { token } = await createSession(t.app);
    const status = (await t.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(token) })).json();
    const app = await buildApp({
      config: resolveConfig(TEST_CONFIG),
      store: new MemoryStore(),
      apiKey: API_KEY,
    });
    app.get('/leak/status', { schema: { response: { 200: { $ref: 'status#' } } } }, async () => ({
      ...status,
      token,
    }));
    app.get('/leak/admin', { schema: { response: { 200: { $ref: 'adminSession#' } } } }, async () => ({
      id: 'i',
      subject: 's',
      policy: 'p',
      createdAt: 'c',
      lastActivityAt: 'l',
      lastSeenAt: 'l',
      attributes: { kept: true },
      idleExpiresAt: 'i',
      absoluteExpiresAt: 'a',
      tokenHash: 'h',
      token,
    }));
    app.get('/leak/error', { schema: { response: { 400: { $ref: 'error#' } } } }, async (_request, reply) =>
      reply.code(400).send({ error: { code: 'bad_request', message: 'm', token }, token }),
    );
    for (const url of ['/leak/status', '/leak/admin', '/leak/error']) {
      const response = await app.inject({ method: 'GET', url });
      assert.ok(!response.body.includes(token), url);
      assert.ok(!response.body.includes('tokenHash'), url);
    }
    await app.close();
    await t.app.close();
  });
});

describe('events', () => {
  test('exactly one session.expired when reads, heartbeats and the sweeper race', async () => {
    const t = await makeApp();
    const sweeper = new Sweeper({
      store: t.app.vigil.store,
      clock: t.clock,
      events: t.events,
      intervalMs: 1,
    });
    const sessions = [];
    for (let i = 0; i < 20; i++) sessions.push(await createSession(t.app, { subject: `s${i}` }));
    t.clock.advance(10_000);
    await Promise.all([
      sweeper.sweep(),
      ...sessions.flatMap(({ token, id }) => [
        t.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(token) }),
        heartbeat(t.app, token),
        t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend }),
        t.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(token) }),
      ]),
      sweeper.sweep(),
    ]);
    await sweeper.sweep();
    const expired = t.seen.filter((e) => e.type === 'session.expired').map((e) => e.session.id);
    assert.equal(expired.length, 20);
    assert.equal(new Set(expired).size, 20);
    assert.equal(t.seen.filter((e) => e.type === 'session.revoked').length, 0);
    await t.app.close();
  });

  test('the built-in sweeper starts on ready and stops on close', async () => {
    const clock = new ManualClock();
    const t = await makeApp({ clock, sweeper: { intervalMs: 5 } });
    await createSession(t.app);
    clock.advance(10_000);
    for (let i = 0; i < 100 && !t.seen.some((e) => e.type === 'session.expired'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(t.seen.filter((e) => e.type === 'session.expired').length, 1);
    await t.app.close();
    await createSession(t.app).catch(() => {});
    const before = t.seen.length;
    clock.advance(100_000);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(t.seen.length, before);
  });
});

describe('close', () => {
  test('a request that arrives while closing gets 503 in the error shape, with Connection: close', async () => {
    const { t, token, port, release } = await listeningWithGatedReads();
    // The first request holds the connection open (close() waits for it); the second arrives on
    // that connection once close() has begun.
    const { socket, ended, received } = rawConnection(port);
    socket.write(`GET /v1/session HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closed = t.app.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    await Promise.all([closed, ended]);
    const answers = received().split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 2, received());
    assert.match(answers[0] as string, /^HTTP\/1\.1 200/);
    assert.match(answers[1] as string, /^HTTP\/1\.1 503/);
    assert.match(answers[1] as string, /connection: close/i);
    assert.match(answers[1] as string, /retry-after: 1/i);
    assert.match(answers[1] as string, /"code":"store_unavailable"/);
  });

  test('close() ends a connection that was opened and never used (browsers open spare ones ahead of need)', async () => {
    const t = await makeApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    const accepted = new Promise((resolve) => t.app.server.once('connection', resolve));
    const spare = connect(port, '127.0.0.1');
    const spareClosed = new Promise((resolve) => spare.on('close', resolve));
    await accepted;
    // Node's server.close() alone keeps such a connection open, and close() with it, indefinitely.
    assert.equal(await closesWithin(t.app, 5000), true, 'close() still waits for the spare connection');
    await spareClosed;
  });

  test('a keep-alive connection whose answer was under way when close() began is closed once answered', async () => {
    const { t, token, port, release } = await listeningWithGatedReads();
    const { socket, ended, received } = rawConnection(port);
    socket.write(`GET /v1/session HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closed = closesWithin(t.app, 5000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    // The answer began before closing, so it is a keep-alive one: without the drain the connection
    // would stay open for the keep-alive timeout (72 s).
    assert.equal(await closed, true, 'close() still waits for the answered connection');
    await ended;
    assert.match(received(), /^HTTP\/1\.1 200/);
    assert.match(received(), /connection: keep-alive/i);
  });

  test('app.close() waits for in-flight requests', async () => {
    const store = new GatedStore();
    const t = await makeApp({ store });
    const { token } = await createSession(t.app);
    store.hold();
    const pending = t.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(token) });
    await store.reached;
    const closed = t.app.close();
    setTimeout(() => store.release(), 20);
    const response = await pending;
    await closed;
    assert.equal(response.statusCode, 200);
  });
});
