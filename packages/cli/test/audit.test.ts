// The audit trail as `vigil serve` keeps it: beside the sessions in the store the spec names, so it
// survives a restart; and with several nodes on one Redis, exactly one entry per session end,
// whichever node ended it or noticed the expiry first.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { ManualClock, resolveConfig, type SessionEvent } from '@vigil/core';
import { buildApp } from '@vigil/server';
import { RedisAuditLog, RedisStore } from '@vigil/store-redis';
import type { FastifyInstance } from 'fastify';
import { startRedis, uniquePrefix } from '../../store-redis/test/redis-server.js';
import { bridgeStoreEvents } from '../src/commands/serve.js';
import { API_KEY, call, startVigil, tempDir } from './helpers.js';

test('serve --store sqlite: the audit trail is in the store file and survives a restart', async (t) => {
  const store = `sqlite:${join(tempDir(t), 'vigil.db')}`;
  const first = await startVigil(t, ['--store', store]);
  const created = await call(first.url, 'POST', '/v1/sessions', {
    auth: API_KEY,
    body: { subject: 'alice' },
  });
  assert.equal(created.status, 201);
  const { id } = created.body.session;
  assert.equal((await call(first.url, 'DELETE', `/v1/sessions/${id}`, { auth: API_KEY })).status, 204);
  assert.equal((await first.stop()).code, 0, first.output());

  const second = await startVigil(t, ['--store', store]);
  const trail = await call(second.url, 'GET', '/v1/audit?subject=alice', { auth: API_KEY });
  assert.equal(trail.status, 200, JSON.stringify(trail.body));
  assert.deepEqual(
    trail.body.entries.map((e: { sessionId: string; reason: string; actor: string }) => [
      e.sessionId,
      e.reason,
      e.actor,
    ]),
    [[id, 'revoked', 'admin']],
  );
  assert.equal(trail.body.nextCursor, null);
  assert.equal((await second.stop()).code, 0, second.output());
});

interface Node {
  app: FastifyInstance;
  seen: SessionEvent[];
}

/** One in-process node on the shared Redis, bridged to the others as `vigil serve` bridges them. */
async function nodeOn(t: TestContext, url: string, prefix: string, clock: ManualClock): Promise<Node> {
  const store = RedisStore.fromUrl(url, { keyPrefix: prefix });
  const auditLog = RedisAuditLog.fromUrl(url, { keyPrefix: prefix });
  const app = await buildApp({
    config: resolveConfig({ policies: { default: { idleTimeout: '10s', absoluteTimeout: '1h' } } }),
    store,
    auditLog,
    apiKey: API_KEY,
    clock,
    sweeper: { intervalMs: 20 },
  });
  const seen: SessionEvent[] = [];
  app.vigil.events.on((event) => seen.push(event));
  const unbridge = await bridgeStoreEvents(app, store);
  await app.ready();
  t.after(async () => {
    await app.close();
    unbridge();
    await store.close();
    await auditLog.close();
  });
  return { app, seen };
}

const inject = (node: Node, method: 'GET' | 'POST' | 'DELETE', url: string, auth: string, payload?: object) =>
  node.app.inject({ method, url, headers: { authorization: `Bearer ${auth}` }, ...(payload && { payload }) });

test('two nodes on one Redis: each end (revocation, logout, expiry) is one audit entry', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const prefix = uniquePrefix();
  const clock = new ManualClock(Date.now());
  const nodes = [await nodeOn(t, redis.url, prefix, clock), await nodeOn(t, redis.url, prefix, clock)];
  const [a, b] = nodes as [Node, Node];

  const sessions: { token: string; id: string }[] = [];
  for (let i = 0; i < 8; i++) {
    const created = await inject(nodes[i % 2] as Node, 'POST', '/v1/sessions', API_KEY, {
      subject: `user-${i % 3}`,
    });
    assert.equal(created.statusCode, 201, created.body);
    sessions.push({ token: created.json().token, id: created.json().session.id });
  }
  const [revoked, loggedOut, ...rest] = sessions as [
    (typeof sessions)[0],
    (typeof sessions)[0],
    ...typeof sessions,
  ];
  assert.equal((await inject(a, 'DELETE', `/v1/sessions/${revoked.id}`, API_KEY)).statusCode, 204);
  assert.equal((await inject(b, 'DELETE', '/v1/session', loggedOut.token)).statusCode, 204);

  // Past the idle deadline: half the sessions are read on both nodes at once, the rest are left to
  // the two sweepers, which race for them (and for the read ones).
  clock.advance(11_000);
  const reads = await Promise.all(
    rest.slice(0, 3).flatMap((s) => [a, b].map((node) => inject(node, 'GET', '/v1/session', s.token))),
  );
  assert.ok(reads.every((read) => read.statusCode === 401));

  // Both nodes hear every end (their own, and the other's through Redis), then write theirs.
  const heardEverywhere = () =>
    [a, b].every((node) =>
      sessions.every((s) =>
        node.seen.some(
          (e) => (e.type === 'session.expired' || e.type === 'session.revoked') && e.session.id === s.id,
        ),
      ),
    );
  const deadline = Date.now() + 10_000;
  while (!heardEverywhere() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(heardEverywhere(), 'every end reached both nodes');
  await Promise.all([a, b].map((node) => node.app.vigil.audit?.flush()));

  const [byA, byB] = [a, b].map((node) => node.app.vigil.audit?.stats().written ?? 0) as [number, number];
  t.diagnostic(`entries written by A, B: ${byA}, ${byB}`);
  assert.equal(byA + byB, sessions.length, 'each end written by one node only');
  for (const node of [a, b]) {
    const answer = await inject(node, 'GET', '/v1/audit?limit=100', API_KEY);
    assert.equal(answer.statusCode, 200);
    const entries = answer.json().entries as { sessionId: string; reason: string; actor: string }[];
    assert.deepEqual(
      entries.map((e) => e.sessionId).sort(),
      sessions.map((s) => s.id).sort(),
      'one entry per session, on either node',
    );
    const reasonOf = new Map(entries.map((e) => [e.sessionId, `${e.reason}/${e.actor}`]));
    assert.equal(reasonOf.get(revoked.id), 'revoked/admin');
    assert.equal(reasonOf.get(loggedOut.id), 'logout/user');
    for (const s of rest) assert.equal(reasonOf.get(s.id), 'idle_timeout/timeout');
  }
});
