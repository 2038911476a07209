// Cross-node events in one process: two apps, each on its own RedisStore (its own connections) to one
// real Redis, bridged exactly as `vigil serve` bridges them. Measures how long an event takes to
// reach the other node's bus, and checks that nothing echoes and nothing is counted twice.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isRemoteEvent, resolveConfig, type SessionEvent } from '@vigil/core';
import { buildApp } from '@vigil/server';
import { RedisStore } from '@vigil/store-redis';
import type { FastifyInstance } from 'fastify';
import { type RedisServer, startRedis, uniquePrefix } from '../../store-redis/test/redis-server.js';
import { bridgeStoreEvents } from '../src/commands/serve.js';
import { API_KEY } from './helpers.js';

const config = resolveConfig({
  policies: { default: { idleTimeout: '1500ms', absoluteTimeout: '1m', warnBefore: '500ms' } },
});

interface Node {
  app: FastifyInstance;
  store: RedisStore;
  /** Every event this node's bus carried, with when it arrived (performance.now()). */
  heard: { event: SessionEvent; at: number }[];
  unbridge: () => void;
}

/** Resolves with the arrival time of the first event on `node` that matches; fails after `withinMs`. */
async function arrival(node: Node, match: (event: SessionEvent) => boolean, withinMs: number) {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const found = node.heard.find(({ event }) => match(event));
    if (found !== undefined) return found;
    if (performance.now() > deadline) throw new Error(`no matching event within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('cross-node events through Redis (two apps bridged as vigil serve does)', () => {
  let redis: RedisServer | undefined;
  const nodes: Node[] = [];
  const prefix = uniquePrefix();

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i++) {
      const store = RedisStore.fromUrl(redis.url, { keyPrefix: prefix });
      const app = await buildApp({ config, store, apiKey: API_KEY, sweeper: { intervalMs: 100 } });
      const heard: Node['heard'] = [];
      app.vigil.events.on((event) => heard.push({ event, at: performance.now() }));
      const unbridge = await bridgeStoreEvents(app, store);
      await app.ready();
      nodes.push({ app, store, heard, unbridge });
    }
  });

  after(async () => {
    for (const node of nodes) {
      await node.app.close();
      node.unbridge();
      await node.store.close();
    }
    await redis?.stop();
  });

  const [a, b] = [0, 1].map((i) => () => {
    const node = nodes[i];
    if (node === undefined) throw new Error('nodes not started');
    return node;
  }) as [() => Node, () => Node];

  it('a creation, a revocation and an expiry on one node reach the other within 1 s, once, no echo', async () => {
    const sent = performance.now();
    const created = await a().app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { authorization: `Bearer ${API_KEY}` },
      payload: { subject: 'alice' },
    });
    assert.equal(created.statusCode, 201);
    const id = created.json().session.id as string;
    const onB = await arrival(b(), (e) => e.type === 'session.created' && e.session.id === id, 1000);
    assert.ok(onB.at - sent < 1000, `created reached B after ${Math.round(onB.at - sent)} ms`);
    assert.ok(isRemoteEvent(onB.event));
    assert.equal(onB.event.session.subject, 'alice');

    const revokedAt = performance.now();
    const revoked = await a().app.inject({
      method: 'DELETE',
      url: `/v1/sessions/${id}`,
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    assert.equal(revoked.statusCode, 204);
    const end = await arrival(b(), (e) => e.type === 'session.revoked' && e.session.id === id, 1000);
    assert.ok(end.at - revokedAt < 1000, `revoked reached B after ${Math.round(end.at - revokedAt)} ms`);
    assert.equal(end.event.session.reason, 'revoked');

    // An expiry, found by whichever node's sweeper (or read) came first, reaches the other one.
    const idle = await b().app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { authorization: `Bearer ${API_KEY}` },
      payload: { subject: 'bob' },
    });
    const idleId = idle.json().session.id as string;
    const waitMs = Date.parse(idle.json().session.idleExpiresAt) - Date.now() + 2000;
    const isExpiry = (e: SessionEvent) => e.type === 'session.expired' && e.session.id === idleId;
    const [onA, onB2] = await Promise.all([arrival(a(), isExpiry, waitMs), arrival(b(), isExpiry, waitMs)]);
    assert.notEqual(
      isRemoteEvent(onA.event),
      isRemoteEvent(onB2.event),
      'one node found it, the other heard',
    );
    const [found, heard] = isRemoteEvent(onA.event) ? [onB2, onA] : [onA, onB2];
    assert.ok(heard.at - found.at < 1000, `expiry relayed after ${Math.round(heard.at - found.at)} ms`);
    assert.equal(heard.event.session.reason, 'idle_timeout');

    // Let any echo arrive, then count: each node carried each event exactly once.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const node of [a(), b()]) {
      const count = (type: string, sid: string) =>
        node.heard.filter((h) => h.event.type === type && h.event.session.id === sid).length;
      assert.equal(count('session.created', id), 1);
      assert.equal(count('session.revoked', id), 1);
      assert.equal(count('session.created', idleId), 1);
      assert.equal(count('session.expired', idleId), 1);
    }
  });

  it('counts each event in the metrics of the node where it happened only', async () => {
    const scrape = async (node: Node) => (await node.app.inject({ method: 'GET', url: '/metrics' })).body;
    const [onA, onB] = await Promise.all([scrape(a()), scrape(b())]);
    const created = (text: string) => metric(text, 'vigil_sessions_created_total', 'policy="default"');
    const ended = (text: string, reason: string) =>
      metric(text, 'vigil_sessions_ended_total', `reason="${reason}"`);
    assert.equal(created(onA) + created(onB), 2, 'two sessions created in the cluster');
    assert.equal(ended(onA, 'revoked') + ended(onB, 'revoked'), 1);
    assert.equal(ended(onA, 'idle_timeout') + ended(onB, 'idle_timeout'), 1);
  });
});
