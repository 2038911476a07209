import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeLocks } from '../test/support/fake-locks.js';
import { FakeTime, settle } from '../test/support/fake-time.js';
import { FakeTokenServer } from '../test/support/token-fake-server.js';
import { createTokenMode, type TokenMode, type TokenModeOptions, TokenRefreshError } from './token-mode.js';
import type { VigilEvents } from './types.js';
import { createVigil } from './vigil.js';

const open: TokenMode[] = [];
after(() => {
  for (const mode of open) mode.close();
});

let names = 0;
const channelName = () => `token-test-${names++}`;

function tokenMode(server: FakeTokenServer, options: Partial<TokenModeOptions> = {}): TokenMode {
  const mode = createTokenMode({
    baseUrl: 'https://vigil.test',
    fetch: server.fetch,
    clock: server.time,
    timers: server.time,
    tabs: false,
    random: () => 0.5,
    ...(!server.cookieMode && { refreshToken: server.issued }),
    ...options,
  });
  open.push(mode);
  return mode;
}

/** Awaits `promise` while fake time passes: a tab keeps the lock a moment after its refresh. */
async function within<T>(server: FakeTokenServer, promise: Promise<T>): Promise<T> {
  await server.time.advance(100);
  return promise;
}

async function rejection(promise: Promise<unknown>): Promise<TokenRefreshError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TokenRefreshError, `not a TokenRefreshError: ${String(error)}`);
    return error;
  }
  throw new assert.AssertionError({ message: 'expected a rejection' });
}

describe('the access token', () => {
  it('comes from a sleeping refresh, and the same one is handed out until it is due', async () => {
    const server = new FakeTokenServer(new FakeTime());
    const mode = tokenMode(server);
    assert.equal(await mode.accessToken(), 'at-1');
    assert.equal(await mode.accessToken(), 'at-1');
    assert.deepEqual(
      server.refreshes().map((c) => c.body),
      [{ refreshToken: 'rt-0', state: 'sleeping' }],
      'one refresh, sleeping: fetching a token is not the user being active',
    );
  });

  it('is refreshed 30 s before a 5-minute token expires, timed by the durations the server sent', async () => {
    const server = new FakeTokenServer(new FakeTime());
    // The server's wall clock an hour ahead: only its relative durations may count.
    server.skewMs = 3_600_000;
    const mode = tokenMode(server);
    await mode.accessToken();
    await server.time.advance(269_900);
    assert.equal(server.refreshes().length, 1);
    await server.time.advance(100);
    assert.equal(server.refreshes().length, 2);
    assert.deepEqual(
      server.refreshes()[1]?.body,
      { refreshToken: 'rt-1', state: 'sleeping' },
      'the rotated one',
    );
    assert.equal(await mode.accessToken(), 'at-2');
    await server.time.advance(270_000);
    assert.equal(server.refreshes().length, 3, 'and again 30 s before the next one expires');
  });

  it('is refreshed at 80 % of the life of a short token', async () => {
    const server = new FakeTokenServer(new FakeTime());
    server.accessTtlMs = 60_000;
    const mode = tokenMode(server);
    await mode.accessToken();
    await server.time.advance(47_900);
    assert.equal(server.refreshes().length, 1);
    await server.time.advance(100);
    assert.equal(server.refreshes().length, 2);
  });

  it('is not refreshed on a timer when it ends with the session; an expired one is refused with the reason', async () => {
    const server = new FakeTokenServer(new FakeTime());
    server.idleMs = 120_000; // shorter than the access tokens' 5 minutes: each ends with the session
    const mode = tokenMode(server);
    await mode.accessToken();
    await server.time.advance(119_000);
    assert.equal(server.refreshes().length, 1, 'a sleeping refresh could not give a longer-lived token');
    assert.equal(await mode.accessToken(), 'at-1', 'still valid');
    await server.time.advance(2000);
    const error = await rejection(mode.accessToken());
    assert.deepEqual(error.outcome, { kind: 'ended', reason: 'idle_timeout' });
    assert.equal(server.refreshes().length, 2, 'the server was asked, and said why');
    await rejection(mode.accessToken());
    assert.equal(server.refreshes().length, 2, 'an ended session is not asked again');
  });

  it('keeps a held token that has not expired when a refresh fails, and retries with backoff', async () => {
    const server = new FakeTokenServer(new FakeTime());
    const mode = tokenMode(server);
    await mode.accessToken();
    server.failure = { status: 503, retryAfter: '2' };
    await server.time.advance(270_000);
    assert.equal(server.refreshes().length, 2);
    assert.equal(await mode.accessToken(), 'at-1', 'the failed refresh leaves a usable token');
    await server.time.advance(1999);
    const before = server.refreshes().length;
    await server.time.advance(1);
    assert.equal(server.refreshes().length, before + 1, 'Retry-After is the floor of the backoff');
    server.failure = null;
    await server.time.advance(5000);
    assert.equal(await mode.accessToken(), 'at-2');
  });

  it('rejects with the retry outcome once the held token has expired and the server cannot be reached', async () => {
    const server = new FakeTokenServer(new FakeTime());
    const mode = tokenMode(server);
    await mode.accessToken();
    server.failure = 'network';
    await server.time.advance(300_000);
    const error = await rejection(mode.accessToken());
    assert.equal(error.outcome.kind, 'retry');
  });

  it('travels in the body until the server moves it into the cookie, and is never sent again then', async () => {
    const server = new FakeTokenServer(new FakeTime());
    const mode = tokenMode(server);
    const transport = mode.transport();
    await transport.read();
    server.cookieMode = true;
    await transport.read();
    await transport.heartbeat({ state: 'active' });
    assert.deepEqual(
      server.refreshes().map((c) => c.body),
      [
        { refreshToken: 'rt-0', state: 'sleeping' },
        { refreshToken: 'rt-1', state: 'sleeping' },
        { state: 'active' },
      ],
    );
    assert.equal(server.ended, null);
  });
});

describe('single flight in a tab', () => {
  it('shares one refresh among the callers that arrive while it is in flight', async () => {
    const server = new FakeTokenServer(new FakeTime());
    const mode = tokenMode(server);
    const transport = mode.transport();
    const release = server.pause();
    const reads = Promise.all([transport.read(), transport.read()]);
    const tokens = Promise.all([mode.accessToken(), mode.accessToken(), mode.accessToken()]);
    await settle();
    assert.equal(server.refreshes().length, 1);
    release();
    assert.deepEqual(await tokens, ['at-1', 'at-1', 'at-1']);
    const [first, second] = await reads;
    assert.equal(first?.kind, 'ok');
    assert.equal(first, second);
    assert.equal(server.refreshes().length, 1);
  });

  it('queues an active heartbeat behind a sleeping refresh, so the activity is reported, with the rotated token', async () => {
    const server = new FakeTokenServer(new FakeTime());
    const mode = tokenMode(server);
    const transport = mode.transport();
    const release = server.pause();
    const read = transport.read();
    const active = transport.heartbeat({ state: 'active' });
    const again = transport.heartbeat({ state: 'active' });
    const token = mode.accessToken();
    await settle();
    assert.equal(server.refreshes().length, 1, 'the active one waits its turn');
    release();
    await Promise.all([read, active, again, token]);
    assert.deepEqual(
      server.refreshes().map((c) => c.body),
      [
        { refreshToken: 'rt-0', state: 'sleeping' },
        { refreshToken: 'rt-1', state: 'active' },
      ],
    );
    assert.equal(await token, 'at-2', 'a token caller takes the answer of the last refresh queued');
    assert.equal(server.ended, null);
  });
});

describe('across tabs', () => {
  it('refreshes once for all tabs: the others wait on the lock, then find the new token', async () => {
    const server = new FakeTokenServer(new FakeTime()).useCookie();
    const locks = new FakeLocks();
    const tabs = { name: channelName(), locks };
    const a = tokenMode(server, { tabs });
    const b = tokenMode(server, { tabs });
    await within(server, a.accessToken());
    await within(server, b.accessToken());
    await server.time.advance(100);
    assert.equal(await within(server, a.accessToken()), 'at-2', "a took b's token over the channel");
    const before = server.refreshes().length;
    // Both tabs' timers come due at the same moment.
    await server.time.advance(270_000);
    assert.equal(server.refreshes().length, before + 1, 'one refresh for both tabs');
    assert.equal(await within(server, a.accessToken()), 'at-3');
    assert.equal(await within(server, b.accessToken()), 'at-3');
    assert.equal(server.refreshes().length, before + 1);

    // And when both ask at once for a token that is due, before their timers ran (a machine waking up).
    server.time.jump(270_000);
    const both = Promise.all([a.accessToken(), b.accessToken()]);
    await server.time.advance(100);
    assert.deepEqual(await both, ['at-4', 'at-4']);
    assert.equal(server.refreshes().length, before + 2);
    assert.equal(server.ended, null);
  });

  it('without Web Locks, two tabs racing with one cookie are both kept signed in by the grace window', async () => {
    const server = new FakeTokenServer(new FakeTime()).useCookie();
    const tabs = { name: channelName(), locks: null };
    const a = tokenMode(server, { tabs });
    const b = tokenMode(server, { tabs });
    await within(server, a.accessToken());
    await within(server, b.accessToken());
    await server.time.advance(100);
    const before = server.refreshes().length;
    const release = server.pause();
    await server.time.advance(270_000);
    assert.equal(server.refreshes().length, before + 2, 'both in flight');
    const [first, second] = server.presented.slice(-2);
    assert.equal(first, second, 'presenting the same cookie');
    release();
    await server.time.advance(100);
    assert.equal(server.ended, null, 'nobody logged out');
    assert.match(await within(server, a.accessToken()), /^at-/);
    assert.match(await within(server, b.accessToken()), /^at-/);
    assert.equal(
      (await within(server, a.transport().heartbeat({ state: 'active' }))).kind,
      'ok',
      'and the cookie still works',
    );
  });

  it('tells the other tabs when the session ends (refresh_reuse), and they ask the server no more', async () => {
    const server = new FakeTokenServer(new FakeTime()).useCookie();
    const tabs = { name: channelName(), locks: new FakeLocks() };
    const a = tokenMode(server, { tabs });
    const b = tokenMode(server, { tabs });
    await within(server, a.accessToken());
    await within(server, b.accessToken());
    // A thief presents the refresh token the backend issued, long since rotated.
    const stolen = await server.fetch('https://vigil.test/v1/token/refresh', {
      method: 'POST',
      body: JSON.stringify({ refreshToken: 'rt-0', state: 'active' }),
    });
    assert.equal(stolen.status, 401);
    const outcome = await within(server, a.transport().heartbeat({ state: 'active' }));
    assert.deepEqual(outcome, { kind: 'ended', reason: 'refresh_reuse' });
    await server.time.advance(100);
    const before = server.calls.length;
    const error = await rejection(b.accessToken());
    assert.deepEqual(error.outcome, { kind: 'ended', reason: 'refresh_reuse' });
    assert.equal((await within(server, b.transport().read())).kind, 'ended');
    assert.equal(server.calls.length, before, 'b knew without asking');
  });

  it('takes no tokens and no ending from a tab of another session', async () => {
    const time = new FakeTime();
    const one = new FakeTokenServer(time);
    const other = new FakeTokenServer(time);
    other.sessionId = 'another';
    const tabs = { name: channelName(), locks: null };
    const a = tokenMode(one, { tabs });
    const b = tokenMode(other, { tabs });
    await within(one, a.accessToken());
    await within(one, b.accessToken());
    await within(one, a.transport().heartbeat({ state: 'active' }));
    await within(one, a.transport().logout());
    await time.advance(100);
    assert.equal(await within(one, b.accessToken()), 'at-1', "b's own token");
    assert.equal(other.refreshes().length, 1);
  });

  it('logs out with DELETE /v1/token, and every tab knows', async () => {
    const server = new FakeTokenServer(new FakeTime()).useCookie();
    const tabs = { name: channelName(), locks: new FakeLocks() };
    const a = tokenMode(server, { tabs });
    const b = tokenMode(server, { tabs });
    await within(server, a.accessToken());
    await within(server, b.accessToken());
    const outcome = await within(server, a.transport().logout());
    assert.deepEqual(outcome, { kind: 'done' });
    const deletes = server.calls.filter((c) => c.method === 'DELETE');
    assert.deepEqual(
      deletes.map((c) => [c.path, c.body]),
      [['/v1/token', undefined]],
      'the cookie says who: no body',
    );
    assert.equal(server.ended, 'logout');
    await server.time.advance(100);
    assert.deepEqual((await rejection(b.accessToken())).outcome, { kind: 'ended', reason: 'logout' });
    assert.deepEqual((await rejection(a.accessToken())).outcome, { kind: 'ended', reason: 'logout' });
  });

  it('logs out with the refresh token in the body when it is not a cookie', async () => {
    const server = new FakeTokenServer(new FakeTime());
    const mode = tokenMode(server);
    await mode.accessToken();
    assert.deepEqual(await mode.transport().logout(), { kind: 'done' });
    assert.deepEqual(server.calls.at(-1)?.body, { refreshToken: 'rt-1' });
  });
});

describe('with the SDK', () => {
  it('drives the same warning, extend and ended flow as session mode', async () => {
    const server = new FakeTokenServer(new FakeTime());
    server.idleMs = 30_000;
    server.warnBeforeMs = 10_000;
    server.intervalMs = 10_000;
    const mode = tokenMode(server);
    const vigil = createVigil({
      baseUrl: 'https://vigil.test',
      transport: mode.transport,
      clock: server.time,
      timers: server.time,
      tabs: false,
      activityTargets: null,
      sleepingHeartbeatIntervalMs: 0,
      random: () => 0.5,
    });
    const events: Array<{ type: keyof VigilEvents; payload: unknown }> = [];
    for (const type of ['warning', 'extended', 'ended'] as const) {
      vigil.on(type, (payload) => events.push({ type, payload }));
    }
    await vigil.start();
    assert.deepEqual(
      server.refreshes().map((c) => c.body?.state),
      ['sleeping'],
      'the start-up read is a sleeping refresh',
    );
    assert.equal(vigil.status().state, 'active');
    const first = await mode.accessToken();

    await server.time.advance(20_000);
    assert.equal(vigil.status().state, 'warning');
    await vigil.extend();
    assert.equal(vigil.status().state, 'active');
    assert.deepEqual(
      events.map((e) => e.type),
      ['warning', 'extended'],
    );
    assert.equal(server.refreshes('active').length, 1, 'extend is an active refresh');
    assert.notEqual(await mode.accessToken(), first, 'and brings a new access token');

    await server.time.advance(31_000);
    assert.equal(vigil.status().state, 'ended');
    assert.deepEqual(events.at(-1), { type: 'ended', payload: { reason: 'idle_timeout' } });
    const last = server.calls.at(-1);
    assert.equal(last?.path, '/v1/token/refresh', 'the server was asked and refused with the reason');
    assert.deepEqual((await rejection(mode.accessToken())).outcome, {
      kind: 'ended',
      reason: 'idle_timeout',
    });
    vigil.stop();
  });
});
