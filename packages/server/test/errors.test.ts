import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { ERROR_CODES, ERROR_TABLE, MemoryStore, resolveConfig } from '@vigil/core';
import { buildApp, errorSchema } from '../src/index.js';
import {
  API_KEY,
  backend,
  bearer,
  createSession,
  errorCode,
  faultyStore,
  heartbeat,
  makeApp,
  TEST_CONFIG,
} from './helpers.js';

describe('API key and session token are never confused', () => {
  test('backend routes refuse a session token, a missing or wrong key, and other schemes', async () => {
    const t = await makeApp();
    const { token, id } = await createSession(t.app);
    const headerSets = [
      {},
      bearer(token),
      bearer('wrong-key'),
      bearer(`${API_KEY}x`),
      { authorization: API_KEY },
      { authorization: `Basic ${Buffer.from(`x:${API_KEY}`).toString('base64')}` },
      { authorization: `Bearer ${API_KEY} extra` },
    ];
    for (const headers of headerSets) {
      for (const [method, url] of [
        ['POST', '/v1/sessions'],
        ['GET', '/v1/sessions?subject=alice'],
        ['GET', `/v1/sessions/${id}`],
        ['DELETE', `/v1/sessions/${id}`],
        ['DELETE', '/v1/subjects/alice/sessions'],
      ] as const) {
        const response = await t.app.inject({
          method,
          url,
          headers,
          payload: method === 'POST' ? { subject: 'x' } : undefined,
        });
        assert.equal(response.statusCode, 401, `${method} ${url} ${JSON.stringify(headers)}`);
        assert.equal(errorCode(response), 'unauthenticated');
      }
    }
    assert.equal((await heartbeat(t.app, token)).statusCode, 200, 'the session survived every attempt');
    await t.app.close();
  });

  test('token routes refuse the API key and malformed tokens without a store call', async () => {
    let calls = 0;
    const inner = new MemoryStore();
    const counting = new Proxy(inner, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls++;
          return value.apply(target, args);
        };
      },
    });
    const t = await makeApp({ store: counting });
    const { token } = await createSession(t.app);
    calls = 0;
    for (const headers of [
      {},
      backend,
      bearer(`${token}x`),
      bearer(token.slice(0, -1)),
      { authorization: token },
    ]) {
      for (const [method, url] of [
        ['POST', '/v1/heartbeat'],
        ['GET', '/v1/session'],
        ['DELETE', '/v1/session'],
      ] as const) {
        const response = await t.app.inject({
          method,
          url,
          headers,
          payload: method === 'POST' ? { state: 'active' } : undefined,
        });
        assert.equal(response.statusCode, 401);
        assert.equal(errorCode(response), 'unauthenticated');
        assert.equal(response.headers['www-authenticate'], 'Bearer realm="vigil"');
      }
    }
    assert.equal(calls, 0);
    const lower = await t.app.inject({
      method: 'GET',
      url: '/v1/session',
      headers: { authorization: `bearer ${token}` },
    });
    assert.equal(lower.statusCode, 200, 'the scheme is case-insensitive');
    await t.app.close();
  });

  test('buildApp refuses a missing, blank or token-shaped API key', async () => {
    for (const apiKey of ['', ' key', 'a key', `vgl_${'A'.repeat(43)}`, undefined]) {
      await assert.rejects(
        buildApp({ config: resolveConfig(TEST_CONFIG), store: new MemoryStore(), apiKey: apiKey as string }),
        TypeError,
      );
    }
  });
});

describe('the error shape holds for framework errors too', () => {
  test('404 route not found, 413, malformed JSON, unsupported type, bad URL', async () => {
    const t = await makeApp();
    const cases = [
      [{ method: 'GET', url: '/nope' }, 404, 'not_found'],
      [{ method: 'PUT', url: '/v1/session' }, 404, 'not_found'],
      [{ method: 'GET', url: '/v1/sessions/%E0%A4%A', headers: backend }, 400, 'bad_request'],
      [
        { method: 'POST', url: '/v1/sessions', headers: backend, payload: { subject: 'x'.repeat(70_000) } },
        413,
        'payload_too_large',
      ],
      [
        {
          method: 'POST',
          url: '/v1/sessions',
          headers: { ...backend, 'content-type': 'application/json' },
          payload: '{"subject":',
        },
        400,
        'bad_request',
      ],
      [
        {
          method: 'POST',
          url: '/v1/sessions',
          headers: { ...backend, 'content-type': 'application/json' },
          payload: '',
        },
        400,
        'validation_failed',
      ],
      [
        {
          method: 'POST',
          url: '/v1/sessions',
          headers: { ...backend, 'content-type': 'application/json' },
          payload: '{"subject":"a","attributes":{"__proto__":{"x":1}}}',
        },
        400,
        'bad_request',
      ],
      [
        {
          method: 'POST',
          url: '/v1/sessions',
          headers: { ...backend, 'content-type': 'text/plain' },
          payload: 'subject=a',
        },
        415,
        'bad_request',
      ],
      [
        {
          method: 'POST',
          url: '/v1/sessions',
          headers: { ...backend, 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'subject=a',
        },
        415,
        'bad_request',
      ],
    ] as const;
    for (const [request, status, code] of cases) {
      const response = await t.app.inject(request);
      assert.equal(response.statusCode, status, `${request.method} ${request.url}`);
      assert.equal(errorCode(response), code);
      assert.match(String(response.headers['content-type']), /^application\/json/);
    }
    await t.app.close();
  });

  test('an unexpected error is a bare 500 internal_error: no message, no stack', async () => {
    const app = await buildApp({
      config: resolveConfig(TEST_CONFIG),
      store: new MemoryStore(),
      apiKey: API_KEY,
    });
    app.get('/boom', async () => {
      throw new Error(`secret detail at ${import.meta.url}`);
    });
    const response = await app.inject({ method: 'GET', url: '/boom' });
    assert.equal(response.statusCode, 500);
    assert.deepEqual(response.json(), {
      error: { code: 'internal_error', message: ERROR_TABLE.internal_error.message },
    });
    await app.close();
  });
});

describe('a store outage is not a logout', () => {
  for (const mode of ['throw', 'hang'] as const) {
    test(`store ${mode}s → 503 store_unavailable + Retry-After everywhere, /readyz 503, then recovers`, async () => {
      const store = faultyStore();
      const t = await makeApp({ store, config: { ...TEST_CONFIG, storeTimeout: 50 } });
      const { token, id } = await createSession(t.app);
      store.mode = mode;
      const requests = [
        { method: 'POST', url: '/v1/heartbeat', headers: bearer(token), payload: { state: 'active' } },
        { method: 'GET', url: '/v1/session', headers: bearer(token) },
        { method: 'DELETE', url: '/v1/session', headers: bearer(token) },
        { method: 'POST', url: '/v1/sessions', headers: backend, payload: { subject: 'x' } },
        { method: 'GET', url: '/v1/sessions?subject=alice', headers: backend },
        { method: 'GET', url: `/v1/sessions/${id}`, headers: backend },
        { method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend },
        { method: 'DELETE', url: '/v1/subjects/alice/sessions', headers: backend },
        { method: 'GET', url: '/readyz' },
      ] as const;
      const started = Date.now();
      const answers = await Promise.all(requests.map((request) => t.app.inject(request)));
      assert.ok(Date.now() - started < 1000, 'bounded by storeTimeout');
      for (const [i, response] of answers.entries()) {
        assert.equal(response.statusCode, 503, requests[i]?.url);
        assert.equal(errorCode(response), 'store_unavailable');
        assert.equal(response.headers['retry-after'], '1');
        assert.ok(!response.body.includes('5432'), 'the cause stays in the logs');
      }
      const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(metrics.statusCode, 200, 'metrics still answer while the store is down');
      assert.match(metrics.body, /vigil_store_errors_total \d+/);
      assert.match(metrics.body, /vigil_heartbeats_total\{state="active",outcome="unavailable"\} 1/);
      store.mode = 'ok';
      assert.equal((await heartbeat(t.app, token)).statusCode, 200);
      assert.equal((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
      await t.app.close();
    });
  }
});

test('/healthz and /readyz', async () => {
  const t = await makeApp();
  const health = await t.app.inject({ method: 'GET', url: '/healthz' });
  assert.deepEqual([health.statusCode, health.json()], [200, { status: 'ok' }]);
  const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
  assert.deepEqual([ready.statusCode, ready.json()], [200, { status: 'ready' }]);
  await t.app.close();
});

test('every error code of the table is documented in the README and allowed by the error schema', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  for (const code of ERROR_CODES) assert.ok(readme.includes(`\`${code}\``), `README lacks ${code}`);
  assert.deepEqual([...errorSchema.properties.error.properties.code.enum], ERROR_CODES);
});
