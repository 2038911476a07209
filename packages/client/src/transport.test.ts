import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeTime } from '../test/support/fake-time.js';
import { createTransport } from './transport.js';

function transportAnswering(response: () => Response | Promise<Response>, seen: RequestInit[] = []) {
  const time = new FakeTime();
  return createTransport({
    baseUrl: 'https://vigil.test',
    token: 'tok',
    fetch: async (_input, init) => {
      seen.push(init ?? {});
      return response();
    },
    timers: time,
    timeoutMs: 1000,
  });
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers });

describe('transport', () => {
  it('reads the reason of a 401 session_ended, and unauthenticated as a reason', async () => {
    const ended = transportAnswering(() =>
      json(401, { error: { code: 'session_ended', message: 'x', reason: 'absolute_timeout' } }),
    );
    assert.deepEqual(await ended.read(), { kind: 'ended', reason: 'absolute_timeout' });
    const unknown = transportAnswering(() => json(401, { error: { code: 'unauthenticated', message: 'x' } }));
    assert.deepEqual(await unknown.read(), { kind: 'ended', reason: 'unauthenticated' });
    const garbled = transportAnswering(() => new Response('nope', { status: 401 }));
    assert.deepEqual(await garbled.read(), { kind: 'ended', reason: 'unauthenticated' });
  });

  it('asks for a retry on 5xx and 429 with their Retry-After, and on network errors', async () => {
    const busy = transportAnswering(() =>
      json(503, { error: { code: 'store_unavailable' } }, { 'retry-after': '4' }),
    );
    assert.deepEqual(await busy.read(), { kind: 'retry', retryAfterMs: 4000, httpStatus: 503 });
    const limited = transportAnswering(() => json(429, {}, { 'retry-after': '1' }));
    assert.deepEqual(await limited.heartbeat({ state: 'active' }), {
      kind: 'retry',
      retryAfterMs: 1000,
      httpStatus: 429,
    });
    const down = transportAnswering(() => Promise.reject(new TypeError('fetch failed')));
    assert.deepEqual(await down.read(), { kind: 'retry', retryAfterMs: null, httpStatus: 0 });
  });

  it('fails without retry on other 4xx', async () => {
    const csrf = transportAnswering(() => json(403, { error: { code: 'csrf_rejected' } }));
    assert.deepEqual(await csrf.read(), { kind: 'failed', httpStatus: 403, code: 'csrf_rejected' });
  });

  it('posts JSON with the bearer token and sends logout with or without a body', async () => {
    const seen: RequestInit[] = [];
    const t = transportAnswering(() => new Response(null, { status: 204 }), seen);
    assert.deepEqual(await t.logout({ warning: 'signed_out' }), { kind: 'done' });
    assert.deepEqual(await t.logout(), { kind: 'done' });
    assert.equal(seen[0]?.method, 'DELETE');
    assert.equal(seen[0]?.keepalive, true, 'a logout outlives a page that is leaving');
    assert.equal(seen[0]?.body, '{"warning":"signed_out"}');
    const headers = seen.map((init) => new Headers(init.headers));
    assert.equal(headers[0]?.get('content-type'), 'application/json');
    assert.equal(headers[0]?.get('authorization'), 'Bearer tok');
    assert.equal(seen[1]?.body, undefined);
    assert.equal(headers[1]?.get('content-type'), null);
  });
});
