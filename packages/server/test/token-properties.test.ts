import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ERROR_TABLE, parseRefreshToken } from '@vigil/core';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { backend, createSession, makeApp } from './helpers.js';
import { issueTokens, refresh } from './token-helpers.js';

/**
 * Hostile input at the token endpoints: whatever arrives, the answer is a 4xx with the error shape
 * and a code from the table (never a 5xx, never tokens), and nothing changes — the session is as it
 * was and its real refresh token still rotates.
 */

const RUNS = { numRuns: 150 };
const STACK_OR_PATH = /\n\s+at |node:internal|\/work\/|\/home\/|file:\/\/|\.[cm]?[jt]s:\d+|node_modules/;
const CONFIG = {
  policies: { default: { idleTimeout: '1h', absoluteTimeout: '8h' } },
  cookie: { enabled: true, secure: false, allowedOrigins: ['https://app.example.com'] },
  // Enough for every run: this test is about input, not the rate limit.
  heartbeatRateLimit: { burst: 100_000, perSecond: 1000 },
};

function checkRefusal(response: LightMyRequestResponse): void {
  assert.ok(
    response.statusCode >= 400 && response.statusCode < 500,
    `${response.statusCode} ${response.body}`,
  );
  assert.doesNotMatch(response.body, STACK_OR_PATH);
  const body = JSON.parse(response.body);
  assert.deepEqual(Object.keys(body), ['error']);
  const code = body.error.code as keyof typeof ERROR_TABLE;
  assert.ok(code in ERROR_TABLE, `unknown code ${code}`);
  assert.equal(ERROR_TABLE[code].status, response.statusCode);
}

const b64 = (length: number) =>
  fc.string({
    unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')),
    minLength: length,
    maxLength: length,
  });

/** Refresh-token-like strings: right shape with made-up parts (the real session id sometimes), or anything. */
function hostileToken(sessionId: string, family: string) {
  return fc.oneof(
    fc
      .tuple(fc.constantFrom(sessionId, 'x'.repeat(43)), b64(22), b64(43))
      .map(([s, f, x]) => `vrt_${s}.${f}.${x}`),
    fc.tuple(b64(22), b64(43)).map(([f, x]) => `vrt_${sessionId}.${f}.${x}`),
    // The real family with a made-up secret would be a reuse (that is the point of families):
    // hostile input here is what a stranger can make, so the family is always altered.
    b64(43).map((x) => `vrt_${sessionId}.${family.slice(1)}Z.${x}`),
    fc.string({ maxLength: 600 }),
    fc.jsonValue({ maxDepth: 2 }),
  );
}

const headers = fc.record(
  {
    origin: fc.constantFrom('https://app.example.com', 'https://evil.example', 'null', ''),
    cookie: fc.oneof(
      fc.string({ maxLength: 80 }),
      b64(40).map((x) => `vigil-refresh=vrt_${x}`),
    ),
  },
  { requiredKeys: [] },
);

describe('token endpoints under hostile input', () => {
  test('refresh and logout refuse with a 4xx and change nothing', async () => {
    const { app, store, clock } = await makeApp({ config: CONFIG });
    const { id } = await createSession(app);
    const tokens = await issueTokens(app, id);
    const family = parseRefreshToken(tokens.refreshToken)?.family ?? '';
    const before = JSON.stringify(await store.get(id, clock.now()));

    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            refreshToken: hostileToken(id, family),
            state: fc.oneof(fc.constantFrom('active', 'sleeping'), fc.jsonValue({ maxDepth: 1 })),
          },
          { requiredKeys: [] },
        ),
        headers,
        fc.constantFrom('POST', 'DELETE'),
        async (body, extra, method) => {
          const response = await app.inject({
            method,
            url: method === 'POST' ? '/v1/token/refresh' : '/v1/token',
            headers: { ...extra, 'content-type': 'application/json' },
            payload: JSON.stringify(body),
          });
          checkRefusal(response);
        },
      ),
      RUNS,
    );
    assert.equal(JSON.stringify(await store.get(id, clock.now())), before, 'the session is as it was');
    const next = await refresh(app, tokens.refreshToken, 'sleeping');
    assert.equal(next.statusCode, 200, 'the real refresh token still rotates');
    assert.notEqual(next.json().refreshToken, tokens.refreshToken);
  });

  test('POST /v1/token refuses anything but a known live session id with a 4xx', async () => {
    const { app } = await makeApp({ config: CONFIG });
    const { id } = await createSession(app);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ sessionId: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 2 })) }),
          fc.jsonValue({ maxDepth: 3 }),
        ),
        async (body) => {
          fc.pre(JSON.stringify(body) !== JSON.stringify({ sessionId: id }));
          const response = await app.inject({
            method: 'POST',
            url: '/v1/token',
            headers: { ...backend, 'content-type': 'application/json' },
            payload: JSON.stringify(body),
          });
          checkRefusal(response);
        },
      ),
      RUNS,
    );
  });
});
