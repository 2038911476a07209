import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { bridgeEvents, type ConfigInput, MemoryStore, systemClock } from '@vigil/core';
import type { FastifyInstance } from 'fastify';
import { backend, bearer, createSession, makeApp, type TestApp } from './helpers.js';

/**
 * `/v1/events` over real sockets (`listen` + `fetch`), on the system clock with the sweeper running,
 * because what matters is when a pushed event reaches a reader.
 */

const CONFIG: ConfigInput = {
  policies: { default: { idleTimeout: '3s', absoluteTimeout: '1m', warnBefore: '2s' } },
  cookie: { enabled: true, secure: false },
};

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
  at: number;
}

/** An open stream: parsed events as they come, comment lines counted. */
class Reader {
  readonly events: SseEvent[] = [];
  comments = 0;
  done = false;
  readonly response: Response;
  readonly #controller: AbortController;
  #waiters: (() => void)[] = [];
  readonly finished: Promise<void>;

  constructor(response: Response, controller: AbortController) {
    this.response = response;
    this.#controller = controller;
    this.finished = this.#read();
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of this.response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          this.#frame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // aborted by the test
    }
    this.done = true;
    this.#wake();
  }

  #frame(text: string): void {
    if (text.startsWith(':')) this.comments++;
    else {
      const event = /^event: (.*)$/m.exec(text)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(text)?.[1] ?? 'null';
      this.events.push({ event, data: JSON.parse(data), at: Date.now() });
    }
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once `predicate` holds, or fails after `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  next(name: string, timeoutMs?: number): Promise<void> {
    return this.until(() => this.events.some((e) => e.event === name), timeoutMs, `event ${name}`);
  }

  close(): void {
    this.#controller.abort();
  }
}

async function listen(options: Parameters<typeof makeApp>[0] = {}): Promise<TestApp & { base: string }> {
  const t = await makeApp({
    config: CONFIG,
    clock: systemClock as never,
    sweeper: { intervalMs: 100 },
    ...options,
  });
  const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...t, base: address };
}

async function open(base: string, headers: Record<string, string>): Promise<Reader> {
  const controller = new AbortController();
  const response = await fetch(`${base}/v1/events`, { headers, signal: controller.signal });
  return new Reader(response, controller);
}

async function streamsGauge(app: FastifyInstance): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  return Number(/^vigil_sse_streams (\d+)$/m.exec(text)?.[1]);
}

describe('GET /v1/events (Server-Sent Events)', () => {
  const apps: FastifyInstance[] = [];
  after(async () => {
    for (const app of apps) await app.close();
  });

  test('status first, at once; an admin revocation reaches the open stream within a second, then it closes', async () => {
    const t = await listen();
    apps.push(t.app);
    const { token, id } = await createSession(t.app);
    const reader = await open(t.base, bearer(token));
    assert.equal(reader.response.status, 200);
    assert.match(String(reader.response.headers.get('content-type')), /^text\/event-stream/);
    assert.equal(reader.response.headers.get('cache-control'), 'no-store');
    assert.equal(reader.response.headers.get('x-accel-buffering'), 'no');
    await reader.next('status', 1000);
    assert.equal(reader.events[0]?.event, 'status');
    assert.equal(reader.events[0]?.data.id, id);
    assert.equal(reader.events[0]?.data.state, 'active');

    const revokedAt = Date.now();
    const revoke = await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    assert.equal(revoke.statusCode, 204);
    await reader.next('ended', 1000);
    const ended = reader.events.find((e) => e.event === 'ended');
    assert.ok(ended);
    assert.ok(ended.at - revokedAt < 1000, `ended after ${ended.at - revokedAt} ms`);
    assert.equal(ended.data.reason, 'revoked');
    assert.match(String(ended.data.endedAt), /^\d{4}-\d\d-\d\dT/);
    await reader.until(() => reader.done, 1000, 'the stream to close');
    assert.equal(await streamsGauge(t.app), 0);
  });

  test('warning when the warning period begins, extended on an active heartbeat, ended at the idle deadline', async () => {
    const t = await listen();
    apps.push(t.app);
    const { token } = await createSession(t.app);
    const openedAt = Date.now();
    const reader = await open(t.base, bearer(token));
    await reader.next('warning', 2500);
    const warning = reader.events.find((e) => e.event === 'warning');
    assert.ok(warning);
    // warnBefore 2 s of a 3 s idle timeout: the warning is due 1 s after creation (sweeper: 100 ms).
    assert.ok(warning.at - openedAt < 2000, `warning after ${warning.at - openedAt} ms`);
    assert.equal(warning.data.state, 'warning');
    assert.equal(warning.data.warnInMs, 0);

    const response = await fetch(`${t.base}/v1/heartbeat`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'active' }),
    });
    assert.equal(response.status, 200);
    await reader.next('extended', 1000);
    const extended = reader.events.find((e) => e.event === 'extended');
    assert.equal(extended?.data.state, 'active');
    assert.ok(Number(extended?.data.idleExpiresInMs) > 2000);

    await reader.until(
      () => reader.events.filter((e) => e.event === 'warning').length === 2,
      2500,
      'second warning',
    );
    const lastActive = Date.now();
    await reader.next('ended', 4000);
    const ended = reader.events.find((e) => e.event === 'ended');
    assert.equal(ended?.data.reason, 'idle_timeout');
    assert.ok(Number(ended?.at) - lastActive < 3000);
    await reader.until(() => reader.done, 1000, 'the stream to close');
    assert.deepEqual(
      reader.events.map((e) => e.event),
      ['status', 'warning', 'extended', 'warning', 'ended'],
    );
  });

  test('comment pings keep the stream open and never count as activity; opening touches nothing', async () => {
    const t = await listen({
      config: { ...CONFIG, policies: { default: { idleTimeout: '1m', absoluteTimeout: '1h' } } },
      sse: { pingIntervalMs: 50 },
    });
    apps.push(t.app);
    const { token, id } = await createSession(t.app);
    const before = (
      await t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend })
    ).json();
    const reader = await open(t.base, bearer(token));
    await reader.until(() => reader.comments >= 3, 2000, 'three pings');
    const afterPings = (
      await t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend })
    ).json();
    assert.equal(afterPings.lastSeenAt, before.lastSeenAt);
    assert.equal(afterPings.lastActivityAt, before.lastActivityAt);
    assert.deepEqual(
      reader.events.map((e) => e.event),
      ['status'],
    );
    reader.close();
  });

  test('the session cookie works, and a stream is refused (401, JSON) for an ended or unknown session', async () => {
    const t = await listen();
    apps.push(t.app);
    const { token, id } = await createSession(t.app);
    const byCookie = await open(t.base, { cookie: `vigil=${token}` });
    await byCookie.next('status', 1000);
    byCookie.close();

    const none = await fetch(`${t.base}/v1/events`);
    assert.equal(none.status, 401);
    assert.equal((await none.json()).error.code, 'unauthenticated');
    await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    const ended = await fetch(`${t.base}/v1/events`, { headers: bearer(token) });
    assert.equal(ended.status, 401);
    const body = await ended.json();
    assert.equal(body.error.code, 'session_ended');
    assert.equal(body.error.reason, 'revoked');
  });

  test('streams per session are bounded: opening one more closes the oldest; closed streams leave the index', async () => {
    const t = await listen({ sse: { maxStreamsPerSession: 2 } });
    apps.push(t.app);
    const { token } = await createSession(t.app);
    const other = await createSession(t.app, { subject: 'bob' });
    const first = await open(t.base, bearer(token));
    await first.next('status');
    const second = await open(t.base, bearer(token));
    await second.next('status');
    const bobs = await open(t.base, bearer(other.token));
    await bobs.next('status');
    assert.equal(await streamsGauge(t.app), 3);
    const third = await open(t.base, bearer(token));
    await third.next('status');
    await first.until(() => first.done, 1000, 'the oldest stream to close');
    assert.equal(second.done, false);
    assert.equal(bobs.done, false, "another session's streams are not touched");
    assert.equal(await streamsGauge(t.app), 3);
    second.close();
    third.close();
    bobs.close();
    const deadline = Date.now() + 2000;
    while ((await streamsGauge(t.app)) !== 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(await streamsGauge(t.app), 0);
  });

  test('a logout from another tab ends every stream of the session', async () => {
    const t = await listen();
    apps.push(t.app);
    const { token } = await createSession(t.app);
    const readers = [await open(t.base, bearer(token)), await open(t.base, bearer(token))];
    await Promise.all(readers.map((r) => r.next('status')));
    await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(token) });
    for (const reader of readers) {
      await reader.next('ended', 1000);
      assert.equal(reader.events.at(-1)?.data.reason, 'logout');
    }
  });

  test('events from another node, bridged onto the bus, reach this node’s streams', async () => {
    const t = await listen();
    apps.push(t.app);
    const { token, id } = await createSession(t.app);
    const reader = await open(t.base, bearer(token));
    await reader.next('status');
    // What a cross-node store does (core's bridgeEvents): the other node's event, as JSON, onto this bus.
    let deliver: ((event: unknown) => void) | null = null;
    const off = bridgeEvents(t.events, {
      publish: () => {},
      onRemoteEvent: (listener) => {
        deliver = listener as (event: unknown) => void;
        return () => {
          deliver = null;
        };
      },
    });
    const lookup = await t.app.vigil.store.get(id, Date.now());
    assert.equal(lookup.kind, 'live');
    if (lookup.kind !== 'live' || deliver === null) return;
    const event = {
      type: 'session.revoked',
      session: { ...lookup.record, endedAt: Date.now(), reason: 'revoked' },
      at: Date.now(),
    };
    (deliver as (event: unknown) => void)(JSON.parse(JSON.stringify(event)));
    await reader.next('ended', 1000);
    assert.equal(reader.events.at(-1)?.data.reason, 'revoked');
    off();
  });

  test('a client that leaves while its stream is being opened leaves nothing behind', async () => {
    const inner = new MemoryStore();
    let slowReads = false;
    const slow = new Proxy(inner, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (name !== 'get' || typeof value !== 'function')
          return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          if (slowReads) await new Promise((resolve) => setTimeout(resolve, 300));
          return value.apply(target, args);
        };
      },
    });
    const t = await listen({ store: slow });
    apps.push(t.app);
    const { token } = await createSession(t.app);
    slowReads = true;
    const controller = new AbortController();
    const opening = fetch(`${t.base}/v1/events`, { headers: bearer(token), signal: controller.signal }).catch(
      () => null,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    await opening;
    await new Promise((resolve) => setTimeout(resolve, 400));
    slowReads = false;
    assert.equal(await streamsGauge(t.app), 0);
  });

  test('app.close() ends open streams instead of waiting for their clients', async () => {
    const t = await listen();
    const { token } = await createSession(t.app);
    const reader = await open(t.base, bearer(token));
    await reader.next('status');
    const started = Date.now();
    await t.app.close();
    assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`);
    await reader.until(() => reader.done, 1000, 'the stream to end');
  });
});
