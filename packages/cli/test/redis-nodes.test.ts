// Several real `vigil serve` processes on one real Redis (started here on a free port): one truth for
// sessions, cross-node events, exactly-once expiry, and what a frozen, killed or restarted Redis does.
// The multi-node checks themselves are shared with PostgreSQL (support/node-scenarios.ts).
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { type RedisServer, startRedis } from '../../store-redis/test/redis-server.js';
import { API_KEY, call, type RunningVigil, sleep } from './helpers.js';
import { oneExpiryAcrossThreeNodes, sessionsAcrossTwoNodes } from './support/node-scenarios.js';
import {
  assertOnly200Or503,
  createOn,
  eventually,
  heartbeat,
  nodesOn,
  openStream,
  outageUnderTraffic,
  tally,
  traffic,
} from './support/nodes.js';

type T = TestContext;

/** Redis for one test, stopped after it. */
async function redisFor(t: T, persistence: 'none' | 'aof' = 'none'): Promise<RedisServer> {
  const redis = await startRedis({ persistence });
  t.after(() => redis.stop());
  return redis;
}

// The store's command timeout (1 s: RedisStore's default, under the server's 2 s storeTimeout), plus
// room for a loaded test machine.
const OUTAGE_ANSWER_MS = 2500;

test('two nodes: a session made on A lives on B; a revocation on A is refused on B at once and pushed to its streams', async (t) => {
  await sessionsAcrossTwoNodes(t, (await redisFor(t)).url);
});

test('three nodes: exactly one expiry per expired session, in the metrics and the webhooks', async (t) => {
  await oneExpiryAcrossThreeNodes(t, (await redisFor(t)).url);
});

test('Redis frozen (SIGSTOP) mid-traffic: 503 within the store timeout, never 401; SIGCONT: all resume, no session lost', async (t) => {
  const redis = await redisFor(t);
  const nodes = await nodesOn(t, redis.url, 2);
  const sessions = await Promise.all(
    Array.from({ length: 8 }, (_, i) => createOn(nodes[i % 2] as RunningVigil, `user-${i}`)),
  );
  const load = traffic(
    nodes,
    sessions.map((s) => s.token),
  );
  await sleep(500);
  const frozenAt = Date.now();
  redis.pause(); // (a failed test still ends it: stop() thaws before it kills)
  await sleep(3000);
  const readyz = await Promise.all(nodes.map((node) => call(node.url, 'GET', '/readyz')));
  assert.deepEqual(
    readyz.map((r) => r.status),
    [503, 503],
  );
  redis.resume();
  const resumedAt = Date.now();
  // Every session answers 200 on every node again, within 5 s, with no restart.
  const recovered = await eventually(async () => {
    const answers = await Promise.all(sessions.flatMap((s) => nodes.map((node) => heartbeat(node, s.token))));
    return answers.every((answer) => answer.status === 200);
  }, 5000);
  t.diagnostic(`every session served on every node ${Date.now() - resumedAt} ms after SIGCONT`);
  const beats = await load.stop();
  assert.ok(
    recovered,
    `not every session answered 200 within 5 s of SIGCONT: ${JSON.stringify(tally(beats))}`,
  );

  t.diagnostic(`answers: ${JSON.stringify(tally(beats))}, slowest ${Math.max(...beats.map((b) => b.ms))} ms`);
  assertOnly200Or503(beats, OUTAGE_ANSWER_MS);
  const whileFrozen = beats.filter((b) => b.startedAt >= frozenAt + 50 && b.startedAt + b.ms < resumedAt);
  assert.ok(whileFrozen.length > 0, 'requests were answered while Redis was frozen');
  assert.ok(
    whileFrozen.every((b) => b.status === 503),
    `only 503 while frozen: ${JSON.stringify(tally(whileFrozen))}`,
  );
  assert.ok(
    beats.some((b) => b.startedAt > resumedAt && b.status === 200),
    'traffic served again after SIGCONT',
  );
});

/** Kills Redis under traffic and restarts it (same port, same directory). */
const killAndRestart = (t: T, redis: RedisServer, nodes: RunningVigil[], tokens: string[]) =>
  outageUnderTraffic(t, { down: () => redis.kill(), up: () => redis.restart() }, nodes, tokens);

test('Redis killed and restarted with persistence off: 503 while down, never 401; after: the sessions Redis lost answer 401 unauthenticated', async (t) => {
  // `--save "" --appendonly no`: Redis keeps nothing across a restart. The sessions it held are gone,
  // so their tokens are unknown: 401 `unauthenticated` is the honest answer, not a Vigil bug.
  const redis = await redisFor(t, 'none');
  const nodes = await nodesOn(t, redis.url, 2);
  const sessions = await Promise.all(
    Array.from({ length: 6 }, (_, i) => createOn(nodes[i % 2] as RunningVigil, `user-${i}`)),
  );
  const tokens = sessions.map((s) => s.token);
  const { before, after } = await killAndRestart(t, redis, nodes, tokens);
  // Until Redis came back: nothing but 200 and 503. After: the lost sessions' heartbeats are 401
  // unauthenticated (never session_ended: no end was ever recorded for them).
  assertOnly200Or503(before, OUTAGE_ANSWER_MS);
  for (const beat of after) {
    assert.ok(
      beat.status === 200 ||
        (beat.status === 503 && beat.code === 'store_unavailable') ||
        (beat.status === 401 && beat.code === 'unauthenticated'),
      JSON.stringify(tally(after)),
    );
  }
  for (const s of sessions) {
    for (const node of nodes) {
      const answer = await heartbeat(node, s.token);
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error.code, 'unauthenticated');
    }
  }
  // New sessions work across nodes, and cross-node events flow again: the subscriber reconnected
  // (retried, because an event published before it resubscribed is not replayed: pub/sub).
  const [a, b] = nodes as [RunningVigil, RunningVigil];
  const relayed = await eventually(async () => {
    const carol = await createOn(a, 'carol');
    assert.equal((await heartbeat(b, carol.token)).status, 200);
    const stream = await openStream(b.url, carol.token);
    try {
      await stream.waitFor('status', 2000);
      await call(a.url, 'DELETE', `/v1/sessions/${carol.id}`, { auth: API_KEY });
      return await eventually(async () => stream.events.some((e) => e.event === 'ended'), 1000);
    } finally {
      await stream.close();
    }
  }, 5000);
  assert.ok(relayed, 'cross-node events reach B again after Redis restarted');
});

test('Redis killed and restarted with AOF (appendfsync always): 503 while down, never 401; no session or revocation lost', async (t) => {
  const redis = await redisFor(t, 'aof');
  const nodes = await nodesOn(t, redis.url, 2);
  const [a, b] = nodes as [RunningVigil, RunningVigil];
  const sessions = await Promise.all(
    Array.from({ length: 6 }, (_, i) => createOn(nodes[i % 2] as RunningVigil, `user-${i}`)),
  );
  // Acknowledged just before the kill: a revocation on A and a creation on B.
  const revoked = await createOn(b, 'mallory');
  assert.equal((await call(a.url, 'DELETE', `/v1/sessions/${revoked.id}`, { auth: API_KEY })).status, 204);
  const last = await createOn(b, 'last-one');
  const live = [...sessions, last];

  const { beats } = await killAndRestart(
    t,
    redis,
    nodes,
    live.map((s) => s.token),
  );
  assertOnly200Or503(beats, OUTAGE_ANSWER_MS);
  for (const s of live) {
    for (const node of nodes) {
      const answer = await heartbeat(node, s.token);
      assert.equal(answer.status, 200, `${s.id} on ${node.url}: ${JSON.stringify(answer.body)}`);
    }
  }
  for (const node of nodes) {
    const answer = await heartbeat(node, revoked.token);
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error.code, 'session_ended');
    assert.equal(answer.body.error.reason, 'revoked');
  }
});
