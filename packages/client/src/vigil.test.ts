import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { harness } from '../test/support/harness.js';
import { countFetchAsActivity } from './fetch-activity.js';

describe('warning timing', () => {
  for (const skewMs of [0, 3_600_000, -86_400_000]) {
    it(`warns warnBefore the deadline, from relative durations (server clock ${skewMs} ms off)`, async () => {
      const h = harness({}, (s) => {
        s.skewMs = skewMs;
      });
      await h.vigil.start();
      await h.time.advance(25_000);
      const [warning] = h.of('warning');
      assert.equal(warning?.at, h.server.createdAt + 20_000);
      assert.deepEqual(warning?.payload, { msLeft: 10_000 });
      assert.equal(h.vigil.status().state, 'warning');
      assert.equal(h.vigil.status().expiresAt, h.server.createdAt + 30_000);
      await h.time.advance(10_000);
      assert.equal(h.of('ended')[0]?.at, h.server.createdAt + 30_000);
      assert.deepEqual(h.of('ended')[0]?.payload, { reason: 'idle_timeout' });
    });
  }

  it('asks the server before warning, and does not warn if the session was extended elsewhere', async () => {
    const h = harness();
    await h.vigil.start();
    await h.time.advance(15_000);
    h.server.lastActivityAt = h.time.now(); // e.g. a middleware-checked request of the app
    await h.time.advance(10_000);
    assert.equal(h.of('warning').length, 0);
    assert.equal(h.vigil.status().expiresAt, h.server.createdAt + 45_000);
    h.vigil.stop();
  });

  it('warns at once when the first status already says "warning"', async () => {
    const h = harness({}, (s) => {
      s.lastActivityAt -= 25_000;
    });
    await h.vigil.start();
    assert.deepEqual(h.of('warning')[0]?.payload, { msLeft: 5000 });
    h.vigil.stop();
  });

  it('does not extend on mere activity during a warning, only on extend(), and reports it', async () => {
    const h = harness();
    await h.vigil.start();
    await h.time.advance(21_000);
    assert.equal(h.vigil.status().state, 'warning');
    h.act('pointermove');
    h.act('keydown');
    await h.time.advance(2000);
    assert.equal(h.server.heartbeats('active').length, 0);
    assert.equal(h.vigil.status().state, 'warning');
    await h.vigil.extend();
    assert.deepEqual(h.server.heartbeats('active')[0]?.body, { state: 'active', warning: 'extended' });
    assert.equal(h.of('extended').length, 1);
    assert.equal(h.vigil.status().state, 'active');
    assert.equal(h.vigil.status().expiresAt, h.time.now() + 30_000);
    await h.vigil.extend();
    assert.deepEqual(h.server.heartbeats('active')[1]?.body, { state: 'active' }, 'reported once');
    h.vigil.stop();
  });

  it('reports a sign-out from the warning with the logout', async () => {
    const h = harness();
    await h.vigil.start();
    await h.time.advance(21_000);
    await h.vigil.logout();
    const del = h.server.calls.find((c) => c.method === 'DELETE');
    assert.deepEqual(del?.body, { warning: 'signed_out' });
    assert.deepEqual(h.of('ended')[0]?.payload, { reason: 'logout' });
    assert.equal(h.vigil.status().state, 'ended');
  });

  it('sends held-back activity instead of warning an active user', async () => {
    const h = harness({}, (s) => {
      s.idleMs = 3000;
      s.warnBeforeMs = 2500;
      s.intervalMs = 1000;
    });
    await h.vigil.start();
    h.act();
    await h.time.advance(100);
    h.act();
    await h.time.advance(500);
    assert.equal(h.of('warning').length, 0);
    assert.equal(h.server.heartbeats('active').length, 2);
    h.vigil.stop();
  });
});

describe('the end of a session', () => {
  it('ends with the reason of a 401 session_ended', async () => {
    const h = harness({ sleepingHeartbeatIntervalMs: 5000 });
    await h.vigil.start();
    h.server.ended = 'revoked';
    await h.time.advance(5000);
    assert.deepEqual(h.of('ended')[0]?.payload, { reason: 'revoked' });
    assert.equal(h.vigil.status().endedReason, 'revoked');
    const calls = h.server.calls.length;
    h.act();
    await h.time.advance(60_000);
    assert.equal(h.server.calls.length, calls, 'nothing is sent after the end');
  });

  it('ends with "unauthenticated" for an unknown token', async () => {
    const h = harness();
    h.server.fetch = async () =>
      new Response(JSON.stringify({ error: { code: 'unauthenticated', message: 'no' } }), { status: 401 });
    const vigil = (await import('./vigil.js')).createVigil({
      baseUrl: 'https://vigil.test',
      token: 'x',
      fetch: h.server.fetch,
      clock: h.time,
      timers: h.time,
      tabs: false,
      activityTargets: null,
    });
    const reasons: string[] = [];
    vigil.on('ended', ({ reason }) => reasons.push(reason));
    await vigil.start();
    assert.deepEqual(reasons, ['unauthenticated']);
  });

  it('sends the token as a Bearer header and nothing else that identifies the user', async () => {
    const h = harness();
    const seen: Headers[] = [];
    const inner = h.server.fetch;
    const vigil = (await import('./vigil.js')).createVigil({
      baseUrl: 'https://vigil.test/',
      token: () => 'token-2',
      fetch: (input, init) => {
        seen.push(new Headers(init?.headers));
        assert.equal(String(input), 'https://vigil.test/v1/session');
        return inner(input, init);
      },
      clock: h.time,
      timers: h.time,
      tabs: false,
      activityTargets: null,
    });
    await vigil.start();
    assert.equal(seen[0]?.get('authorization'), 'Bearer token-2');
    assert.equal(seen[0]?.get('content-type'), null);
    vigil.stop();
  });

  it('ends everywhere on logout with DELETE /v1/session', async () => {
    const h = harness();
    await h.vigil.start();
    assert.equal(await h.vigil.logout(), true, 'the server ended it');
    assert.deepEqual(
      h.server.calls.map((c) => [c.method, c.path, c.body]),
      [
        ['GET', '/v1/session', undefined],
        ['DELETE', '/v1/session', undefined],
      ],
    );
    assert.equal(h.server.ended, 'logout');
  });
});

describe('logout when the server cannot hear it', () => {
  it('retries, ends here at once, and says the server could not be told', async () => {
    const h = harness({ retry: { retries: 2, baseMs: 1000, maxMs: 1000 } });
    await h.vigil.start();
    h.server.failure = 'network';
    const told = h.vigil.logout();
    assert.equal(h.vigil.status().state, 'ended', 'ended here before the server answers');
    await h.time.advance(5000);
    assert.equal(await told, false);
    assert.equal(
      h.server.calls.filter((c) => c.method === 'DELETE').length,
      3,
      'the first try and 2 retries',
    );
  });

  it('says the server heard it when a retry gets through, or when the session had ended already', async () => {
    const h = harness({ retry: { retries: 3, baseMs: 1000, maxMs: 1000 } });
    await h.vigil.start();
    h.server.failure = { status: 503 };
    const told = h.vigil.logout();
    await h.time.advance(600);
    h.server.failure = null;
    await h.time.advance(2000);
    assert.equal(await told, true);
    assert.equal(h.server.ended, 'logout');
    // A second logout finds the session ended (401): nothing is left on the server either way.
    assert.equal(await h.vigil.logout(), true);
  });

  it('says the server could not be told when it refuses (a 403 that retrying cannot fix)', async () => {
    const h = harness();
    await h.vigil.start();
    h.server.failure = { status: 403 };
    assert.equal(await h.vigil.logout(), false);
  });
});

describe('retries', () => {
  it('backs off exponentially on 503, honours Retry-After, and recovers without ending', async () => {
    const h = harness({ retry: { retries: 5, baseMs: 1000, maxMs: 30_000 } });
    await h.vigil.start();
    h.server.failure = { status: 503, retryAfter: '2' };
    h.act();
    await h.time.advance(1);
    await h.time.advance(8000);
    const attempts = h.server.heartbeats('active').map((c) => c.at);
    // 1st at once, then max(backoff with jitter 0.5, Retry-After 2 s): 2000, 2000, 3000 …
    assert.deepEqual(
      attempts.slice(1).map((at, i) => at - (attempts[i] ?? 0)),
      [2000, 2000, 3000],
    );
    h.server.failure = null;
    await h.time.advance(10_000);
    const last = h.server.calls.at(-1);
    assert.equal(last?.body?.state, 'active');
    assert.equal(h.of('heartbeatsDisabled').length, 0);
    assert.equal(h.of('ended').length, 0);
    assert.equal(h.vigil.status().expiresAt, (last?.at ?? 0) + 30_000);
    h.vigil.stop();
  });

  it('does not follow a successful retry with a second active heartbeat inside the interval', async () => {
    const h = harness({ retry: { retries: 5, baseMs: 1000 } });
    await h.vigil.start();
    h.server.failure = { status: 503, retryAfter: '3' };
    await h.work(5000, 200);
    h.server.failure = null;
    await h.work(15_000, 200);
    const ok = h.server.calls.filter((c) => c.path === '/v1/heartbeat' && c.at >= h.server.createdAt + 5000);
    const gaps = ok.slice(1).map((c, i) => c.at - (ok[i]?.at ?? 0));
    assert.ok(
      gaps.every((gap) => gap >= 10_000),
      `gaps ${gaps.join(', ')}`,
    );
    h.vigil.stop();
  });

  it('treats network errors and 429 like 503', async () => {
    const h = harness({ retry: { retries: 4, baseMs: 100 } });
    await h.vigil.start();
    h.server.failure = 'network';
    h.act();
    await h.time.advance(150);
    h.server.failure = { status: 429, retryAfter: '1' };
    await h.time.advance(1200);
    h.server.failure = null;
    await h.time.advance(2000);
    const at = h.server.heartbeats('active').map((c) => c.at - h.server.createdAt);
    assert.deepEqual(at, [0, 75, 225, 1225, 2225]);
    assert.equal(h.of('heartbeatsDisabled').length, 0);
    assert.equal(h.vigil.status().session?.idleExpiresInMs, 30_000);
    h.vigil.stop();
  });

  it('reports heartbeats disabled after the last retry and still ends at the known deadline', async () => {
    const h = harness({ retry: { retries: 2, baseMs: 1000 } });
    await h.vigil.start();
    h.act();
    await h.time.advance(1);
    const extendedTo = h.vigil.status().expiresAt;
    h.server.failure = { status: 503 };
    await h.time.advance(10_000);
    h.act();
    await h.time.advance(2000);
    await h.time.advance(5000);
    assert.equal(h.of('heartbeatsDisabled').length, 1);
    assert.deepEqual(h.of('heartbeatsDisabled')[0]?.payload, { attempts: 3 });
    assert.equal(h.vigil.status().heartbeatsDisabled, true);
    const sent = h.server.heartbeats().length;
    await h.time.advance(30_000);
    assert.equal(h.server.heartbeats().length, sent, 'no heartbeats once disabled');
    const [ended] = h.of('ended');
    assert.equal(ended?.at, extendedTo);
    assert.deepEqual(ended?.payload, { reason: 'idle_timeout' });
  });

  it('comes back from disabled when the user returns and the server answers again', async () => {
    const h = harness({ retry: { retries: 1, baseMs: 1000, maxMs: 4000 } });
    await h.vigil.start();
    h.server.failure = { status: 503 };
    h.act();
    await h.time.advance(3000);
    assert.equal(h.vigil.status().heartbeatsDisabled, true);
    h.server.failure = null;
    await h.time.advance(5000);
    h.act();
    await h.time.advance(1);
    assert.equal(h.vigil.status().heartbeatsDisabled, false);
    await h.time.advance(11_000);
    assert.ok(h.server.heartbeats('active').length >= 3);
    assert.equal(h.of('ended').length, 0);
    h.vigil.stop();
  });

  it('gives up at once on a 4xx that retrying cannot fix', async () => {
    const h = harness();
    await h.vigil.start();
    h.server.failure = { status: 403 };
    h.act();
    await h.time.advance(60_000);
    assert.equal(h.server.heartbeats().length, 1);
    assert.equal(h.of('heartbeatsDisabled').length, 1);
  });
});

describe('re-checking the session', () => {
  it('checks at once when the page becomes visible again', async () => {
    const h = harness();
    await h.vigil.start();
    h.act();
    await h.time.advance(3000);
    h.act();
    await h.time.advance(3000);
    const before = h.server.calls.length;
    h.document.visibilityState = 'visible';
    h.document.dispatchEvent(new Event('visibilitychange'));
    await h.time.advance(1);
    assert.equal(h.server.calls.length, before + 1);
    assert.equal(h.server.calls.at(-1)?.path, '/v1/session');
    h.vigil.stop();
  });

  it('checks at once when timers fire late because the machine slept, and ends if it is over', async () => {
    const h = harness({ sleepingHeartbeatIntervalMs: 0 }, (s) => {
      s.idleMs = 600_000;
    });
    await h.vigil.start();
    h.server.ended = 'revoked';
    h.time.jump(120_000);
    await h.time.advance(15_000);
    assert.deepEqual(
      h.server.calls.map((c) => c.method),
      ['GET', 'GET'],
    );
    assert.deepEqual(h.of('ended')[0]?.payload, { reason: 'revoked' });
  });

  it('reports the first activity after idleness at once, which finds a session ended meanwhile', async () => {
    const h = harness({ sleepingHeartbeatIntervalMs: 0 }, (s) => {
      s.idleMs = 600_000;
      s.intervalMs = 200_000;
    });
    await h.vigil.start();
    h.act();
    await h.time.advance(1);
    h.server.ended = 'revoked';
    await h.time.advance(250_000);
    h.act();
    await h.time.advance(1);
    assert.equal(h.server.calls.at(-1)?.at, h.time.now() - 1);
    assert.deepEqual(h.of('ended')[0]?.payload, { reason: 'revoked' });
  });
});

describe('countFetchAsActivity', () => {
  it('counts the app fetches as activity but not passive ones nor its own', async () => {
    const original = globalThis.fetch;
    const appCalls: string[] = [];
    globalThis.fetch = async (input) => {
      appCalls.push(String(input));
      return new Response('{}', { status: 200 });
    };
    try {
      const h = harness({ countFetchAsActivity });
      await h.vigil.start();
      await h.time.advance(2000);
      await fetch('https://app.test/poll', { headers: { 'X-Vigil-Activity': 'passive' } });
      await h.time.advance(1);
      assert.equal(h.server.heartbeats('active').length, 0);
      await fetch('https://app.test/save', { method: 'POST' });
      await h.time.advance(1);
      assert.equal(h.server.heartbeats('active').length, 1);
      h.vigil.stop();
      assert.notEqual(globalThis.fetch, original);
      assert.equal(appCalls.length, 2);
    } finally {
      globalThis.fetch = original;
    }
  });

  it('ends the session when an app fetch answers a Vigil 401', async () => {
    const original = globalThis.fetch;
    globalThis.fetch = async () =>
      new Response(JSON.stringify({ error: { code: 'session_ended', reason: 'revoked' } }), { status: 401 });
    try {
      const h = harness({ countFetchAsActivity });
      await h.vigil.start();
      await fetch('https://app.test/data');
      await h.time.advance(1);
      assert.deepEqual(h.of('ended')[0]?.payload, { reason: 'revoked' });
    } finally {
      globalThis.fetch = original;
    }
  });
});

describe('start and stop', () => {
  it('does nothing before start and nothing after stop', async () => {
    const h = harness({ sleepingHeartbeatIntervalMs: 1000 });
    h.act();
    await h.time.advance(10_000);
    assert.equal(h.server.calls.length, 0);
    assert.equal(h.vigil.status().state, 'stopped');
    await h.vigil.start();
    assert.equal(h.vigil.status().state, 'active');
    h.vigil.stop();
    assert.equal(h.vigil.status().state, 'stopped');
    const calls = h.server.calls.length;
    h.act();
    await h.time.advance(60_000);
    assert.equal(h.server.calls.length, calls);
    assert.equal(h.time.pending, 0, 'no timer left behind');
  });

  it('keeps the same status object until something changes', async () => {
    const h = harness();
    await h.vigil.start();
    const a = h.vigil.status();
    assert.equal(h.vigil.status(), a);
    h.act();
    await h.time.advance(1);
    assert.notEqual(h.vigil.status(), a);
    h.vigil.stop();
  });
});
