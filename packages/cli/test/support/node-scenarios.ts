// What several nodes on one shared store must do, whichever store it is: the same two-node and
// three-node checks run on Redis and on PostgreSQL (each test file starts its own store and passes
// its spec here).
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { API_KEY, call, type RunningVigil, sleep } from '../helpers.js';
import { createOn, eventually, heartbeat, metric, nodesOn, openStream, webhookReceiver } from './nodes.js';

type T = Pick<TestContext, 'after' | 'diagnostic'>;

/**
 * A session made on A lives on B; a revocation on A is refused on B at the very next request (the
 * store is the truth), and B's event stream and B's WebSocket hear it within 1 s (cross-node
 * events; the socket closes with 4401 and the reason); a logout on B is refused on A.
 */
export async function sessionsAcrossTwoNodes(t: T, spec: string): Promise<void> {
  const [a, b] = (await nodesOn(t, spec, 2)) as [RunningVigil, RunningVigil];

  const alice = await createOn(a, 'alice');
  const onB = await heartbeat(b, alice.token);
  assert.equal(onB.status, 200, JSON.stringify(onB.body));
  assert.equal(onB.body.id, alice.id);
  assert.equal((await call(b.url, 'GET', `/v1/sessions/${alice.id}`, { auth: API_KEY })).status, 200);

  const stream = await openStream(b.url, alice.token);
  t.after(() => stream.close());
  await stream.waitFor('status', 2000);
  const socket = await openSocket(b.url, alice.token);
  t.after(() => socket.terminate());
  const socketClosed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason), at: Date.now() })),
  );
  const revokedAt = Date.now();
  assert.equal((await call(a.url, 'DELETE', `/v1/sessions/${alice.id}`, { auth: API_KEY })).status, 204);
  const refused = await heartbeat(b, alice.token);
  assert.equal(refused.status, 401);
  assert.equal(refused.body.error.code, 'session_ended');
  assert.equal(refused.body.error.reason, 'revoked');
  const ended = await stream.waitFor('ended', 2000);
  assert.equal(ended.data.reason, 'revoked');
  t.diagnostic(`B's stream heard the revocation on A ${ended.at - revokedAt} ms after it was sent`);
  assert.ok(ended.at - revokedAt < 1000, `B's stream heard the revocation after ${ended.at - revokedAt} ms`);
  const close = await socketClosed;
  assert.deepEqual([close.code, close.reason], [4401, 'revoked']);
  assert.ok(
    close.at - revokedAt < 1000,
    `B's socket was closed ${close.at - revokedAt} ms after the revocation`,
  );

  const bob = await createOn(b, 'bob');
  assert.equal((await heartbeat(a, bob.token)).status, 200);
  assert.equal((await call(b.url, 'DELETE', '/v1/session', { auth: bob.token })).status, 204);
  const bobOnA = await heartbeat(a, bob.token);
  assert.equal(bobOnA.status, 401);
  assert.equal(bobOnA.body.error.reason, 'logout');

  for (const node of [a, b]) assert.equal((await node.stop()).code, 0, node.output());
}

/** A `/v1/ws` socket to `base` for `token`, open once its first status has come. */
function openSocket(base: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws`, {
      headers: { authorization: `Bearer ${token}` },
    });
    socket.once('message', () => resolve(socket));
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`upgrade refused: ${response.statusCode}`)),
    );
  });
}

/**
 * Exactly one expiry per expired session over three nodes, counted two ways: each node's
 * `vigil_sessions_ended_total{reason="idle_timeout"}` (a node counts only what happened on it, not
 * what other nodes relayed), summed; and a webhook receiver every node delivers its own events to.
 * Some sessions are left to the three sweepers, which race for them; the others are also read on all
 * three nodes just after their deadline, so the read path races the sweepers as well.
 */
export async function oneExpiryAcrossThreeNodes(t: T, spec: string): Promise<void> {
  const hooks = await webhookReceiver(t);
  const nodes = await nodesOn(t, spec, 3, {
    policies: { default: { idleTimeout: '2s', absoluteTimeout: '1m' } },
    webhooks: [{ url: hooks.url, secret: 'whsec_0123456789abcdef', events: ['session.expired'] }],
  });
  const N = 30;
  const sessions = await Promise.all(
    Array.from({ length: N }, (_, i) => createOn(nodes[i % 3] as RunningVigil, `user-${i}`)),
  );
  const raced = sessions.slice(0, 10);
  await sleep(2050);
  const reads = await Promise.all(
    raced.flatMap((s) => nodes.map((node) => call(node.url, 'GET', '/v1/session', { auth: s.token }))),
  );
  for (const read of reads) {
    assert.equal(read.status, 401, JSON.stringify(read.body));
    assert.equal(read.body.error.reason, 'idle_timeout');
  }

  const endedCounts = async () => {
    const texts = await Promise.all(
      nodes.map(async (node) => (await call(node.url, 'GET', '/metrics')).body),
    );
    return texts.map((text) => metric(String(text), 'vigil_sessions_ended_total', 'reason="idle_timeout"'));
  };
  const sum = (values: number[]) => values.reduce((x, y) => x + y, 0);
  assert.ok(await eventually(async () => sum(await endedCounts()) >= N, 3000), 'every expiry counted');
  // Time for any duplicate (another node's sweeper, a relayed event counted again) to show up.
  await sleep(1500);
  const perNode = await endedCounts();
  t.diagnostic(`expiries counted per node: ${perNode.join(', ')}`);
  assert.equal(sum(perNode), N, `ended per node: ${perNode.join(', ')}`);

  assert.ok(await eventually(async () => hooks.received.length >= N, 3000), 'every expiry delivered');
  const perSession = new Map<string, number>();
  for (const { type, id } of hooks.received) {
    assert.equal(type, 'session.expired');
    perSession.set(id, (perSession.get(id) ?? 0) + 1);
  }
  assert.deepEqual([...perSession.keys()].sort(), sessions.map((s) => s.id).sort());
  assert.ok(
    [...perSession.values()].every((n) => n === 1),
    'one delivery per session over all nodes',
  );
  const created = await Promise.all(
    nodes.map(async (node) =>
      metric(
        String((await call(node.url, 'GET', '/metrics')).body),
        'vigil_sessions_created_total',
        'policy="default"',
      ),
    ),
  );
  assert.equal(sum(created), N, `created per node: ${created.join(', ')}`);
}
