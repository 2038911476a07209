import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { MemoryStore, resolveConfig } from '@vigil/core';
import type { FastifyInstance } from 'fastify';
import { type SseMessage, SseParser } from '../src/dashboard/sse-parser.js';
import { type AppOptions, buildApp } from '../src/index.js';
import { API_KEY, TEST_CONFIG } from './helpers.js';

/** `GET /v1/admin/events` over a real socket: streams are what inject cannot show. */

async function start(options: Partial<AppOptions> = {}): Promise<{ app: FastifyInstance; origin: string }> {
  const app = await buildApp({
    config: resolveConfig(TEST_CONFIG),
    store: new MemoryStore(),
    apiKey: API_KEY,
    sweeper: { intervalMs: 50 },
    ...options,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, origin: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

function post(origin: string, path: string, auth: string, body: unknown) {
  return fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** An open feed: `next()` resolves with the next message (5 s at most, then fails the test). */
async function openFeed(origin: string) {
  const controller = new AbortController();
  const response = await fetch(`${origin}/v1/admin/events`, {
    headers: { authorization: `Bearer ${API_KEY}` },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  assert.match(String(response.headers.get('content-type')), /^text\/event-stream/);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const queue: SseMessage[] = [];
  return {
    async next(): Promise<SseMessage> {
      const deadline = AbortSignal.timeout(5000);
      while (queue.length === 0) {
        const read = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) =>
            deadline.addEventListener('abort', () => reject(new Error('no event within 5 s'))),
          ),
        ]);
        if (read.done) throw new Error('the stream ended');
        queue.push(...parser.push(decoder.decode(read.value, { stream: true })));
      }
      return queue.shift() as SseMessage;
    },
    /** Resolves true once the server has ended the stream. */
    async ended(): Promise<boolean> {
      for (;;) if ((await reader.read()).done) return true;
    },
    close: () => controller.abort(),
  };
}

describe('GET /v1/admin/events', () => {
  test('takes the API key only, in Authorization', async () => {
    const { app, origin } = await start();
    const created = await post(origin, '/v1/sessions', API_KEY, { subject: 'alice' });
    const { token } = (await created.json()) as { token: string };
    for (const headers of [
      {} as Record<string, string>,
      { authorization: `Bearer ${token}` },
      { authorization: 'Bearer nope-0123456789' },
    ]) {
      const response = await fetch(`${origin}/v1/admin/events`, { headers });
      assert.equal(response.status, 401);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'unauthenticated');
    }
    const inQuery = await fetch(`${origin}/v1/admin/events?key=${API_KEY}`);
    assert.equal(inQuery.status, 401, 'a key in the URL is not accepted');
    await app.close();
  });

  test('streams every session event with the admin view, and no sleeping heartbeats', async () => {
    const { app, origin } = await start();
    const feed = await openFeed(origin);

    const created = await post(origin, '/v1/sessions', API_KEY, {
      subject: 'alice',
      attributes: { team: 'blue' },
    });
    const { token, session } = (await created.json()) as { token: string; session: { id: string } };
    const first = await feed.next();
    assert.equal(first.event, 'session.created');
    const data = JSON.parse(first.data);
    assert.equal(data.type, 'session.created');
    assert.ok(!Number.isNaN(Date.parse(data.at)));
    assert.equal(data.session.id, session.id);
    assert.equal(data.session.subject, 'alice');
    assert.deepEqual(data.session.attributes, { team: 'blue' });
    assert.ok(!first.data.includes(token), 'never the token');

    assert.equal((await post(origin, '/v1/heartbeat', token, { state: 'sleeping' })).status, 200);
    const revoked = await fetch(`${origin}/v1/sessions/${session.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    assert.equal(revoked.status, 204);
    const next = await feed.next();
    assert.equal(next.event, 'session.revoked', 'the sleeping heartbeat was left out');
    assert.equal(JSON.parse(next.data).session.reason, 'revoked');

    feed.close();
    await app.close();
  });

  test('reports expiries found by the sweeper', async () => {
    const { app, origin } = await start({
      config: resolveConfig({
        policies: { default: { idleTimeout: '1s', absoluteTimeout: '1m', warnBefore: '500ms' } },
      }),
    });
    const feed = await openFeed(origin);
    await post(origin, '/v1/sessions', API_KEY, { subject: 'bob' });
    const types: string[] = [];
    for (;;) {
      const message = await feed.next();
      types.push(message.event);
      if (message.event === 'session.expired') {
        assert.equal(JSON.parse(message.data).session.reason, 'idle_timeout');
        break;
      }
    }
    assert.deepEqual(types, ['session.created', 'session.warning', 'session.expired']);
    feed.close();
    await app.close();
  });

  test('refuses a stream beyond the limit with 429, and ends open streams when the app closes', async () => {
    const { app, origin } = await start({ adminEvents: { maxStreams: 1 } });
    const feed = await openFeed(origin);
    const refused = await fetch(`${origin}/v1/admin/events`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    assert.equal(refused.status, 429);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'rate_limited');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);

    const ended = feed.ended();
    await app.close();
    assert.equal(await ended, true);
  });

  test('a stream that leaves frees its place', async () => {
    const { app, origin } = await start({ adminEvents: { maxStreams: 1 } });
    const first = await openFeed(origin);
    first.close();
    // The server learns of the close asynchronously: the next open succeeds once it has.
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(`${origin}/v1/admin/events`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      if (response.status === 200) {
        await response.body?.cancel();
        break;
      }
      assert.equal(response.status, 429);
      assert.ok(attempt < 50, 'the closed stream was never released');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await app.close();
  });
});
