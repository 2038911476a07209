import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeLocks } from '../test/support/fake-locks.js';
import { FakePush } from '../test/support/fake-push.js';
import { FakeServer } from '../test/support/fake-server.js';
import { FakeTime, settle } from '../test/support/fake-time.js';
import { harness } from '../test/support/harness.js';
import { createTransport, type PushEvent } from './transport.js';
import { pushChannels } from './transport-choice.js';
import type { VigilOptions } from './vigil.js';

/** A harness whose vigil has `pushChannels()` (WebSocket, then SSE), on fake sockets and streams. */
function withPush(options: Partial<VigilOptions> = {}, shared?: { time: FakeTime; push: FakePush }) {
  const time = shared?.time ?? new FakeTime();
  const push = shared?.push ?? new FakePush(new FakeServer(time));
  const h = harness(
    { push: pushChannels({ WebSocket: push.WebSocket }), fetch: push.fetch, ...options },
    undefined,
    { time, server: push.server },
  );
  const calls = (path: string) => push.server.calls.filter((c) => c.path === path);
  return {
    ...h,
    push,
    /** Heartbeats that went over HTTP, and over the socket. */
    httpBeats: () => calls('/v1/heartbeat').filter((c) => !c.via),
    socketBeats: () => calls('/v1/heartbeat').filter((c) => c.via === 'ws'),
    streamsAsked: () => calls('/v1/events').length,
  };
}

describe('choosing a transport', () => {
  it('uses the WebSocket first: the token in a first message, every heartbeat on it, none over HTTP', async () => {
    const h = withPush({ params: { page: 'a' }, sleepingHeartbeatIntervalMs: 15_000 });
    await h.vigil.start();
    await h.time.advance(10);
    assert.equal(h.push.sockets[0]?.url, 'wss://vigil.test/v1/ws');
    assert.deepEqual(h.push.sent[0], { type: 'auth', token: 'token-1' });
    h.act();
    await h.time.advance(21_000); // quiet: a sleeping heartbeat, then the warning
    assert.equal(h.vigil.status().state, 'warning');
    await h.vigil.extend();
    const beats = h.push.sent.slice(1);
    assert.deepEqual(
      beats.map(({ state, warning }) => [state, warning]),
      [
        ['active', undefined],
        ['sleeping', undefined],
        ['active', 'extended'],
      ],
    );
    assert.ok(beats.every((b) => b.type === 'heartbeat' && typeof b.requestId === 'number'));
    assert.deepEqual(beats[0]?.params, { page: 'a' });
    assert.equal(h.socketBeats().length, 3);
    assert.equal(h.httpBeats().length, 0);
    assert.equal(h.streamsAsked(), 0);
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['warning', 'extended'],
    );
    assert.equal(h.vigil.status().expiresAt, h.time.now() + 30_000);
    h.vigil.stop();
  });

  it('falls back to SSE when the WebSocket is blocked: heartbeats over HTTP, pushes acted on at once', async () => {
    const h = withPush();
    h.push.socketAdmit = 'throw';
    await h.vigil.start();
    await h.time.advance(10);
    assert.equal(h.push.openStreams, 1);
    h.act();
    await h.time.advance(10);
    assert.equal(h.httpBeats().length, 1);
    h.push.push('ended', 'revoked');
    await h.time.advance(1);
    assert.deepEqual(h.of('ended')[0], {
      type: 'ended',
      payload: { reason: 'revoked' },
      at: h.time.now() - 1,
    });
    assert.equal(h.push.openStreams, 0);
  });

  it('falls back to a socket that opens but never authenticates, and to HTTP when nothing opens', async () => {
    const h = withPush();
    h.push.socketAdmit = 'refuse';
    h.push.streamAdmit = 'refuse';
    await h.vigil.start();
    await h.time.advance(10);
    assert.equal(h.push.sockets.length, 1);
    assert.equal(h.streamsAsked(), 1);
    h.act();
    await h.time.advance(10);
    assert.equal(h.httpBeats().length, 1, 'heartbeats alone, over HTTP');
  });

  it('tries the better transports again with growing backoff, and takes the socket once it works', async () => {
    const h = withPush();
    h.push.socketAdmit = 'refuse';
    h.push.streamAdmit = 'throw';
    await h.vigil.start();
    await h.work(20_000, 1000);
    const at = h.push.sockets.map((s) => s.openedAt - h.push.server.createdAt);
    // random() = 0.5: 3/4 of 1 s, 2 s, 4 s, 8 s…
    assert.deepEqual(at, [0, 750, 2250, 5250, 11_250]);
    h.push.socketAdmit = 'ok';
    await h.work(12_000, 1000);
    assert.equal(h.push.openSockets.length, 1);
    const overHttp = h.httpBeats().length;
    assert.ok(overHttp >= 2, 'the session was kept alive over HTTP meanwhile');
    await h.work(20_000, 1000);
    assert.equal(h.httpBeats().length, overHttp, 'none since');
    assert.ok(h.socketBeats().length >= 2);
    h.vigil.stop();
  });

  it('returns from SSE to the WebSocket when it works again, and closes the stream', async () => {
    const h = withPush();
    h.push.socketAdmit = 'refuse';
    await h.vigil.start();
    await h.time.advance(10);
    assert.equal(h.push.openStreams, 1);
    h.push.socketAdmit = 'ok';
    await h.time.advance(1000);
    assert.equal(h.push.openSockets.length, 1);
    assert.equal(h.push.openStreams, 0);
    h.vigil.stop();
  });

  it('reconnects with backoff when a working socket closes, with heartbeats over HTTP meanwhile', async () => {
    const h = withPush();
    await h.vigil.start();
    await h.time.advance(10);
    h.push.sockets[0]?.serverClose(1001, 'shutting_down');
    h.act();
    await h.time.advance(10);
    assert.equal(h.httpBeats().length, 1);
    assert.equal(h.push.sockets.length, 1, 'not at once');
    await h.time.advance(1000);
    assert.equal(h.push.openSockets.length, 1);
    assert.equal(h.push.sockets.length, 2);
    await h.work(12_000, 1000);
    assert.equal(h.httpBeats().length, 1);
    assert.ok(h.socketBeats().length >= 1);
    h.vigil.stop();
  });

  it('drops a socket that does not answer a heartbeat in time, and retries that heartbeat over HTTP', async () => {
    const h = withPush({ requestTimeoutMs: 5000 });
    await h.vigil.start();
    await h.time.advance(10);
    h.push.silent = true;
    h.push.socketAdmit = 'refuse';
    h.push.streamAdmit = 'refuse';
    h.act();
    await h.time.advance(4900);
    assert.equal(h.push.openSockets.length, 1);
    assert.equal(h.httpBeats().length, 0);
    await h.time.advance(100);
    assert.equal(h.push.sockets[0]?.closedBy, 'client');
    await h.time.advance(1000);
    assert.equal(h.httpBeats().length, 1, 'retried over HTTP');
    assert.deepEqual(h.httpBeats()[0]?.body, { state: 'active' });
    h.vigil.stop();
  });

  it('retries a socket heartbeat the store could not take, after its Retry-After', async () => {
    const h = withPush();
    await h.vigil.start();
    await h.time.advance(10);
    h.push.server.failure = { status: 503, retryAfter: '4' };
    h.act();
    await h.time.advance(3900);
    assert.equal(h.socketBeats().length, 1);
    h.push.server.failure = null;
    await h.time.advance(200);
    assert.equal(h.socketBeats().length, 2);
    assert.equal(h.httpBeats().length, 0);
    assert.equal(h.push.openSockets.length, 1, 'the socket stays');
    assert.equal(h.vigil.status().heartbeatsDisabled, false);
    h.vigil.stop();
  });
});

describe('what the server pushes', () => {
  it('ends at once with the reason of a 4401 close, also for a heartbeat on its way', async () => {
    const h = withPush();
    await h.vigil.start();
    await h.time.advance(10);
    h.act(); // the heartbeat goes out now; the server closes before answering it
    h.push.sockets[0]?.serverClose(4401, 'evicted');
    await h.time.advance(10);
    assert.deepEqual(
      h.events.map((e) => [e.type, e.payload]),
      [['ended', { reason: 'evicted' }]],
    );
    assert.equal(h.push.sockets.length, 1, 'no reconnect after the end');
    await h.time.advance(60_000);
    assert.equal(h.push.sockets.length, 1);
  });

  it('warns when the server says so, and closes the warning when another device extended', async () => {
    const h = withPush();
    await h.vigil.start();
    await h.time.advance(1000);
    h.push.server.lastActivityAt -= 25_000;
    h.push.push('warning');
    await h.time.advance(1);
    assert.deepEqual(h.of('warning')[0]?.payload, { msLeft: 4000 });
    h.push.server.lastActivityAt = h.time.now();
    h.push.push('extended');
    await h.time.advance(1);
    assert.deepEqual(h.of('extended')[0]?.payload, { msLeft: 30_000 });
    assert.equal(h.vigil.status().state, 'active');
    h.vigil.stop();
  });

  it('answers a pushed warning with the activity the interval held back, instead of warning', async () => {
    const h = withPush();
    await h.vigil.start();
    h.act();
    await h.time.advance(1000);
    h.act(); // held back until the interval has passed
    await h.time.advance(1000);
    assert.equal(h.socketBeats().length, 1);
    h.push.server.lastActivityAt -= 25_000;
    h.push.push('warning');
    await h.time.advance(10);
    assert.equal(h.socketBeats().length, 2);
    assert.equal(h.of('warning').length, 0);
    assert.equal(h.vigil.status().state, 'active');
    h.vigil.stop();
  });

  it('keeps a warning that is showing when the pushed warning comes after it', async () => {
    const h = withPush({ sleepingHeartbeatIntervalMs: 0 });
    await h.vigil.start();
    await h.time.advance(21_000); // quiet: the client asks at the warning time and warns
    assert.equal(h.vigil.status().state, 'warning');
    const beatsBefore = h.socketBeats().length;
    // The dialog takes focus as it opens: a window `focus` event, from the page, not from the user.
    h.act('focus');
    h.push.push('warning'); // the server's own push of the same warning, a moment later
    await h.time.advance(10);
    assert.equal(h.socketBeats().length, beatsBefore, 'no active heartbeat: only an explicit choice extends');
    assert.equal(h.vigil.status().state, 'warning');
    assert.equal(h.of('extended').length, 0);
    h.vigil.stop();
  });

  it('times out an idle user whose socket stays open: the socket sends nothing by itself', async () => {
    const h = withPush({ sleepingHeartbeatIntervalMs: 0 });
    await h.vigil.start();
    await h.time.advance(31_000);
    assert.deepEqual(
      h.push.sent.map((m) => m.type),
      ['auth'],
    );
    assert.deepEqual(h.of('ended')[0]?.payload, { reason: 'idle_timeout' });
    assert.equal(h.push.sockets[0]?.closedBy, 'client');
  });

  it('has only the leader tab hold a socket; followers hear the end from it; the next leader opens one', async () => {
    const time = new FakeTime();
    const push = new FakePush(new FakeServer(time));
    const tabs = { name: `push-${Math.random()}`, locks: new FakeLocks() };
    const a = withPush({ tabs }, { time, push });
    const b = withPush({ tabs }, { time, push });
    await a.vigil.start();
    await b.vigil.start();
    await time.advance(10);
    assert.equal(push.openSockets.length, 1);
    a.vigil.stop();
    await time.advance(10);
    assert.equal(b.vigil.status().leader, true);
    assert.equal(push.openSockets.length, 1);
    assert.equal(push.sockets.length, 2);
    const c = withPush({ tabs }, { time, push });
    await c.vigil.start();
    await time.advance(10);
    assert.equal(push.sockets.length, 2, 'the follower opens none');
    push.push('ended', 'revoked');
    await time.advance(1);
    assert.deepEqual(
      [b, c].map((tab) => tab.of('ended')[0]?.payload),
      [{ reason: 'revoked' }, { reason: 'revoked' }],
    );
  });

  it('closes its socket and stream on stop and opens nothing more', async () => {
    const h = withPush();
    h.push.socketAdmit = 'refuse';
    await h.vigil.start();
    await h.time.advance(10);
    assert.equal(h.push.openStreams, 1);
    h.vigil.stop();
    await h.time.advance(60_000);
    assert.equal(h.push.openStreams, 0);
    assert.equal(h.push.sockets.length, 1);
  });
});

describe('without push', () => {
  it('opens no channel: heartbeats go over HTTP, and the server is heard only in its answers', async () => {
    const h = withPush({ push: undefined });
    await h.vigil.start();
    h.act();
    await h.time.advance(60_000);
    assert.equal(h.push.sockets.length + h.streamsAsked(), 0);
    assert.ok(h.httpBeats().length >= 2);
  });
});

describe('a custom transport', () => {
  it('is used as given: no push channel unless it offers one, and then its own', async () => {
    const plain = withPush({ transport: (defaults) => createTransport(defaults) });
    await plain.vigil.start();
    plain.act();
    await plain.time.advance(60_000);
    assert.equal(plain.push.sockets.length + plain.streamsAsked(), 0);
    assert.ok(plain.httpBeats().length >= 1);

    const seen: string[] = [];
    let emit: (event: PushEvent) => void = () => {};
    const own = withPush({
      transport: (defaults) => ({
        ...createTransport(defaults),
        listen(onEvent) {
          seen.push('listen');
          emit = onEvent;
          return () => seen.push('closed');
        },
      }),
    });
    await own.vigil.start();
    emit({ kind: 'ended', reason: 'upstream_rejected' });
    await settle();
    assert.deepEqual(seen, ['listen', 'closed']);
    assert.deepEqual(own.of('ended')[0]?.payload, { reason: 'upstream_rejected' });
    assert.equal(own.push.sockets.length, 0);
  });
});
