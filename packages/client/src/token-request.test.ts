import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeTime } from '../test/support/fake-time.js';
import { requestTokens, type TokenRequestOptions } from './token-request.js';

const status = {
  id: 'sid',
  subject: 'ada',
  policy: 'default',
  state: 'active',
  idleExpiresInMs: 900_000,
  absoluteExpiresInMs: 3_600_000,
  warnInMs: 840_000,
  heartbeatIntervalMs: 300_000,
  idleExpiresAt: '2030-01-01T00:15:00.000Z',
  absoluteExpiresAt: '2030-01-01T01:00:00.000Z',
  serverTime: '2030-01-01T00:00:00.000Z',
};

function answering(response: () => Response | Promise<Response>) {
  const seen: Array<{ url: string; init: RequestInit | undefined }> = [];
  const time = new FakeTime();
  const options: TokenRequestOptions = {
    baseUrl: 'https://vigil.test/',
    timers: time,
    timeoutMs: 5000,
    fetch: async (input, init) => {
      seen.push({ url: String(input), init });
      return response();
    },
  };
  return { seen, options, time };
}

const json =
  (code: number, body: unknown, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify(body), {
      status: code,
      headers: { 'content-type': 'application/json', ...headers },
    });

describe('a token-mode request', () => {
  it('posts JSON to the path and reads the tokens of a 200', async () => {
    const tokens = { accessToken: 'a.b.c', refreshToken: 'r', accessExpiresInMs: 300_000, status };
    const { seen, options } = answering(json(200, tokens));
    const outcome = await requestTokens(options, 'POST', '/v1/token/refresh', { state: 'active' });
    assert.deepEqual(outcome, { kind: 'ok', tokens });
    assert.equal(seen[0]?.url, 'https://vigil.test/v1/token/refresh');
    assert.equal(seen[0]?.init?.method, 'POST');
    assert.equal(seen[0]?.init?.body, '{"state":"active"}');
    assert.equal(
      (seen[0]?.init?.headers as Record<string, string> | undefined)?.['content-type'],
      'application/json',
    );
    assert.equal(seen[0]?.init?.cache, 'no-store');
  });

  it('takes tokens without a refresh token (it went into the cookie)', async () => {
    const { options } = answering(json(200, { accessToken: 'a.b.c', accessExpiresInMs: 1000, status }));
    const outcome = await requestTokens(options, 'POST', '/v1/token/refresh', { state: 'sleeping' });
    assert.equal(outcome.kind, 'ok');
  });

  it('sends a DELETE without a body and without a content type, with the credentials asked for', async () => {
    const { seen, options } = answering(() => new Response(null, { status: 204 }));
    const outcome = await requestTokens({ ...options, credentials: 'include' }, 'DELETE', '/v1/token');
    assert.deepEqual(outcome, { kind: 'done' });
    assert.equal(seen[0]?.init?.body, undefined);
    assert.equal((seen[0]?.init?.headers as Record<string, string> | undefined)?.['content-type'], undefined);
    assert.equal(seen[0]?.init?.credentials, 'include');
    assert.equal(seen[0]?.init?.keepalive, true, 'a logout outlives a page that is leaving');
  });

  it('ends with the reason of a 401 session_ended, or the code of another 401', async () => {
    const ended = answering(
      json(401, { error: { code: 'session_ended', message: 'x', reason: 'idle_timeout' } }),
    );
    assert.deepEqual(await requestTokens(ended.options, 'POST', '/p', {}), {
      kind: 'ended',
      reason: 'idle_timeout',
    });
    const reuse = answering(
      json(401, { error: { code: 'session_ended', message: 'x', reason: 'refresh_reuse' } }),
    );
    assert.deepEqual(await requestTokens(reuse.options, 'POST', '/p', {}), {
      kind: 'ended',
      reason: 'refresh_reuse',
    });
    const code = answering(json(401, { error: { code: 'refresh_reuse', message: 'x' } }));
    assert.deepEqual(await requestTokens(code.options, 'POST', '/p', {}), {
      kind: 'ended',
      reason: 'refresh_reuse',
    });
    const unknown = answering(json(401, { error: { code: 'unauthenticated', message: 'x' } }));
    assert.deepEqual(await requestTokens(unknown.options, 'POST', '/p', {}), {
      kind: 'ended',
      reason: 'unauthenticated',
    });
    const bare = answering(() => new Response('nope', { status: 401 }));
    assert.deepEqual(await requestTokens(bare.options, 'POST', '/p', {}), {
      kind: 'ended',
      reason: 'unauthenticated',
    });
  });

  it('retries 5xx and 429 (honouring Retry-After), network errors and a 200 that is not tokens', async () => {
    const down = answering(
      json(503, { error: { code: 'store_unavailable', message: 'x' } }, { 'retry-after': '2' }),
    );
    assert.deepEqual(await requestTokens(down.options, 'POST', '/p', {}), {
      kind: 'retry',
      retryAfterMs: 2000,
      httpStatus: 503,
    });
    const limited = answering(json(429, { error: { code: 'rate_limited', message: 'x' } }));
    assert.equal((await requestTokens(limited.options, 'POST', '/p', {})).kind, 'retry');
    const offline = answering(() => Promise.reject(new TypeError('fetch failed')));
    assert.deepEqual(await requestTokens(offline.options, 'POST', '/p', {}), {
      kind: 'retry',
      retryAfterMs: null,
      httpStatus: 0,
    });
    const portal = answering(() => new Response('<html>captive portal</html>', { status: 200 }));
    assert.deepEqual(await requestTokens(portal.options, 'POST', '/p', {}), {
      kind: 'retry',
      retryAfterMs: null,
      httpStatus: 200,
    });
  });

  it('gives up on other answers (a CSRF refusal) without retrying', async () => {
    const csrf = answering(json(403, { error: { code: 'csrf_rejected', message: 'x' } }));
    assert.deepEqual(await requestTokens(csrf.options, 'POST', '/p', {}), {
      kind: 'failed',
      httpStatus: 403,
      code: 'csrf_rejected',
    });
  });

  it('counts a request that does not answer in time as a network error', async () => {
    const { options, time } = answering(() => new Promise<Response>(() => {}));
    const aborting: TokenRequestOptions = {
      ...options,
      fetch: (_input, init) =>
        new Promise((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    };
    const pending = requestTokens(aborting, 'POST', '/p', {});
    await time.advance(5000);
    assert.deepEqual(await pending, { kind: 'retry', retryAfterMs: null, httpStatus: 0 });
  });
});
