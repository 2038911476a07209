import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { harness } from '../test/support/harness.js';
import { initialBeatState, markActiveSent, planHeartbeat } from './heartbeat.js';

describe('planHeartbeat', () => {
  const config = { heartbeatIntervalMs: 10_000, sleepingIntervalMs: 30_000 };

  it('plans an active heartbeat at once for the first activity', () => {
    const state = initialBeatState();
    state.lastActivityAt = 5;
    assert.deepEqual(planHeartbeat(state, config), { kind: 'active', at: Number.NEGATIVE_INFINITY });
  });

  it('holds further activity back until the interval since the last active heartbeat is over', () => {
    const state = initialBeatState();
    state.lastActivityAt = 1000;
    markActiveSent(state, 1000);
    state.lastActivityAt = 1500;
    assert.deepEqual(planHeartbeat(state, config), { kind: 'active', at: 11_000 });
  });

  it('plans a sleeping heartbeat when nothing happened since the last one, or none if disabled', () => {
    const state = initialBeatState();
    state.lastActivityAt = 1000;
    markActiveSent(state, 1000);
    assert.deepEqual(planHeartbeat(state, config), { kind: 'sleeping', at: 31_000 });
    assert.equal(planHeartbeat(state, { ...config, sleepingIntervalMs: 0 }), null);
  });
});

describe('heartbeats of a running client', () => {
  it('sends at most one active heartbeat per interval however busy the user is', async () => {
    const h = harness({}, (s) => {
      s.intervalMs = 10_000;
    });
    await h.vigil.start();
    await h.work(60_000, 100);
    const active = h.server.heartbeats('active');
    assert.ok(active.length >= 5 && active.length <= 7, `${active.length} active heartbeats`);
    for (let i = 1; i < active.length; i++) {
      const gap = (active[i]?.at ?? 0) - (active[i - 1]?.at ?? 0);
      assert.ok(gap >= 10_000, `gap ${gap}`);
    }
    assert.equal(h.of('ended').length, 0);
    h.vigil.stop();
  });

  it('reports the first activity after a quiet spell at once', async () => {
    const h = harness();
    await h.vigil.start();
    await h.time.advance(5000);
    h.act('keydown');
    await h.time.advance(1);
    assert.equal(h.server.heartbeats('active').length, 1);
    assert.equal(h.server.heartbeats('active')[0]?.at, h.time.now() - 1);
    h.vigil.stop();
  });

  it('sends no active heartbeat without activity, only sleeping ones at their own pace', async () => {
    const h = harness({ sleepingHeartbeatIntervalMs: 40_000 }, (s) => {
      s.idleMs = 300_000;
      s.warnBeforeMs = 30_000;
    });
    await h.vigil.start();
    await h.time.advance(250_000);
    assert.equal(h.server.heartbeats('active').length, 0);
    const sleeping = h.server.heartbeats('sleeping');
    assert.equal(sleeping.length, 6);
    assert.deepEqual(
      sleeping.map((c) => c.at - h.server.createdAt),
      [40_000, 80_000, 120_000, 160_000, 200_000, 240_000],
    );
    h.vigil.stop();
  });

  it('sends nothing at all when sleeping heartbeats are off and nobody is there', async () => {
    const h = harness({ sleepingHeartbeatIntervalMs: 0 }, (s) => {
      s.idleMs = 300_000;
    });
    await h.vigil.start();
    await h.time.advance(200_000);
    assert.equal(h.server.heartbeats().length, 0);
    h.vigil.stop();
  });

  it('defaults sleeping heartbeats to twice the server interval', async () => {
    const h = harness({}, (s) => {
      s.idleMs = 300_000;
      s.intervalMs = 50_000;
    });
    await h.vigil.start();
    await h.time.advance(210_000);
    assert.deepEqual(
      h.server.heartbeats('sleeping').map((c) => c.at - h.server.createdAt),
      [100_000, 200_000],
    );
    h.vigil.stop();
  });

  it('keeps a busy user signed in far past the idle timeout, and ends an idle one at it', async () => {
    const h = harness();
    await h.vigil.start();
    await h.work(120_000, 2000);
    assert.equal(h.of('ended').length, 0);
    assert.equal(h.server.ended, null);
    await h.time.advance(40_000);
    assert.deepEqual(h.of('ended')[0]?.payload, { reason: 'idle_timeout' });
  });

  it('sends the configured pass-through params with each heartbeat', async () => {
    const h = harness({ params: () => ({ page: 'inbox' }), sleepingHeartbeatIntervalMs: 5000 });
    await h.vigil.start();
    await h.time.advance(5000);
    assert.deepEqual(h.server.heartbeats('sleeping')[0]?.body, {
      state: 'sleeping',
      params: { page: 'inbox' },
    });
    h.vigil.stop();
  });
});
