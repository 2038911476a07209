import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, MemoryStore } from '@vigil/core';
import { VigilMetrics } from '../src/metrics.js';

function heartbeatLines(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('vigil_heartbeats_total{'));
}

describe('vigil_heartbeats_total', () => {
  it('counts every heartbeat exactly once, however reads and heartbeats interleave', async () => {
    const metrics = new VigilMetrics({
      store: new MemoryStore(),
      clock: new ManualClock(),
      policyNames: ['default'],
    });
    const heard: string[] = [];
    metrics.onHeartbeat((state, outcome) => heard.push(`${state} ${outcome}`));
    assert.deepEqual(heartbeatLines(await metrics.registry.metrics()), []);

    metrics.heartbeat('active', 'ok');
    metrics.heartbeat('active', 'ok');
    metrics.heartbeat('sleeping', 'rate_limited');
    assert.deepEqual(heartbeatLines(await metrics.registry.metrics()), [
      'vigil_heartbeats_total{state="active",outcome="ok"} 2',
      'vigil_heartbeats_total{state="sleeping",outcome="rate_limited"} 1',
    ]);
    // A second read adds nothing; later heartbeats add to what was read.
    assert.deepEqual(heartbeatLines(await metrics.registry.metrics()), [
      'vigil_heartbeats_total{state="active",outcome="ok"} 2',
      'vigil_heartbeats_total{state="sleeping",outcome="rate_limited"} 1',
    ]);
    metrics.heartbeat('active', 'ok');
    metrics.heartbeat('active', 'unavailable');
    const counter = metrics.registry.getSingleMetric('vigil_heartbeats_total');
    assert.ok(counter !== undefined);
    const values = (await counter.get()).values.map(({ labels, value }) => [
      labels.state,
      labels.outcome,
      value,
    ]);
    assert.deepEqual(values, [
      ['active', 'ok', 3],
      ['sleeping', 'rate_limited', 1],
      ['active', 'unavailable', 1],
    ]);
    assert.deepEqual(heartbeatLines(await metrics.registry.metrics()), [
      'vigil_heartbeats_total{state="active",outcome="ok"} 3',
      'vigil_heartbeats_total{state="sleeping",outcome="rate_limited"} 1',
      'vigil_heartbeats_total{state="active",outcome="unavailable"} 1',
    ]);
    assert.equal(heard.length, 5);
  });
});
