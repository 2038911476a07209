// Several real `vigil serve` processes on one real PostgreSQL (started here with initdb + pg_ctl on a
// free port): the same multi-node checks as on Redis, the database crashing under traffic, and the
// connections the nodes hold after many requests.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { type PostgresServer, startPostgres } from '../../store-postgres/test/postgres-server.js';
import { API_KEY, call, type RunningVigil } from './helpers.js';
import { oneExpiryAcrossThreeNodes, sessionsAcrossTwoNodes } from './support/node-scenarios.js';
import {
  assertOnly200Or503,
  createOn,
  eventually,
  heartbeat,
  nodesOn,
  openStream,
  outageUnderTraffic,
} from './support/nodes.js';

type T = TestContext;

/** PostgreSQL for one test, stopped (and its directory removed) after it. */
async function postgresFor(t: T): Promise<PostgresServer> {
  const pg = await startPostgres();
  t.after(() => pg.stop());
  return pg;
}

interface Backends {
  total: number;
  /** By `application_name`: `vigil` (the sessions pool), `vigil-listen`, `vigil-audit`, … */
  byName: Record<string, number>;
}

/** Connections to the test database, other than the one asking: the nodes' pools and listeners. */
async function backends(pg: PostgresServer): Promise<Backends> {
  const admin = await pg.admin();
  try {
    const { rows } = await admin.query<{ name: string; n: number }>(
      `SELECT application_name AS name, count(*)::int AS n
         FROM pg_stat_activity
        WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()
        GROUP BY application_name`,
      [pg.database],
    );
    const byName = Object.fromEntries(rows.map((row) => [row.name, row.n]));
    return { total: rows.reduce((sum, row) => sum + row.n, 0), byName };
  } finally {
    await admin.end();
  }
}

/**
 * What a node may hold: the sessions pool (`maxConnections`, default 10) and a few fixed others (the
 * listening connection, the audit log's small pool): never one per request.
 */
function assertBounded(seen: Backends, nodes: number): void {
  const text = JSON.stringify(seen);
  assert.ok((seen.byName.vigil ?? 0) <= 10 * nodes, `sessions pools over their maximum: ${text}`);
  const others = seen.total - (seen.byName.vigil ?? 0);
  assert.ok(others <= 4 * nodes, `more than a few other connections per node: ${text}`);
  assert.ok(
    Object.keys(seen.byName).every((name) => name.startsWith('vigil')),
    `every connection is a Vigil node's: ${text}`,
  );
}

// The store's query timeout (1 s) plus its client-side margin (0.5 s), with room for a loaded machine.
const OUTAGE_ANSWER_MS = 2500;

test('PostgreSQL, two nodes: a session made on A lives on B; a revocation on A is refused on B at once and pushed to its streams', async (t) => {
  await sessionsAcrossTwoNodes(t, (await postgresFor(t)).url);
});

test('PostgreSQL, three nodes: exactly one expiry per expired session, in the metrics and the webhooks', async (t) => {
  await oneExpiryAcrossThreeNodes(t, (await postgresFor(t)).url);
});

test('PostgreSQL stopped (pg_ctl -m immediate) under traffic: 503 + Retry-After and /readyz 503, never 401; started again: every node serves, nothing acknowledged lost', async (t) => {
  const pg = await postgresFor(t);
  const nodes = await nodesOn(t, pg.url, 2);
  const [a, b] = nodes as [RunningVigil, RunningVigil];
  const sessions = await Promise.all(
    Array.from({ length: 6 }, (_, i) => createOn(nodes[i % 2] as RunningVigil, `user-${i}`)),
  );
  // Acknowledged just before the crash: a revocation on A and a creation on B.
  const revoked = await createOn(b, 'mallory');
  assert.equal((await call(a.url, 'DELETE', `/v1/sessions/${revoked.id}`, { auth: API_KEY })).status, 204);
  const last = await createOn(b, 'last-one');
  const live = [...sessions, last];

  const { beats, recoveredMs } = await outageUnderTraffic(
    t,
    { down: () => pg.crash(), up: () => pg.start() },
    nodes,
    live.map((s) => s.token),
  );
  const servingAt = Date.now();
  t.diagnostic(`every node served a new session ${recoveredMs} ms after pg_ctl start began`);
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
  // Cross-node events flow again, both ways: each node's listening connection was made again
  // (retried: a NOTIFY sent before the other node listens again is not replayed).
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    const relayed = await eventually(async () => {
      const carol = await createOn(from, 'carol');
      const stream = await openStream(to.url, carol.token);
      try {
        await stream.waitFor('status', 2000);
        await call(from.url, 'DELETE', `/v1/sessions/${carol.id}`, { auth: API_KEY });
        return await eventually(async () => stream.events.some((e) => e.event === 'ended'), 1000);
      } finally {
        await stream.close();
      }
    }, 10_000);
    const name = to === a ? 'A' : 'B';
    assert.ok(relayed, `cross-node events reach ${name} again after PostgreSQL restarted`);
    t.diagnostic(
      `an end on the other node reached ${name}'s stream ${Date.now() - servingAt} ms after both served again`,
    );
  }
  const after = await backends(pg);
  t.diagnostic(`connections after the crash and recovery: ${JSON.stringify(after)}`);
  assertBounded(after, nodes.length);
});

/** One request of a mixed workload, chosen by `i`: what the nodes' pools serve in the leak test. */
async function mixedRequest(node: RunningVigil, i: number, sessions: { token: string; id: string }[]) {
  const s = sessions[i % sessions.length] as { token: string; id: string };
  switch (i % 8) {
    case 0:
      return call(node.url, 'POST', '/v1/sessions', { auth: API_KEY, body: { subject: `leak-${i % 50}` } });
    case 1:
      return call(node.url, 'POST', '/v1/heartbeat', { auth: s.token, body: { state: 'sleeping' } });
    case 2:
      return call(node.url, 'GET', '/v1/session', { auth: s.token });
    case 3:
      return call(node.url, 'GET', '/v1/authorize', { auth: s.token });
    case 4:
      return call(node.url, 'GET', `/v1/sessions?subject=user-${i % 20}`, { auth: API_KEY });
    case 5:
      // An unknown token: the store is asked, and answers nothing.
      return call(node.url, 'POST', '/v1/heartbeat', {
        auth: `vgl_${'A'.repeat(43)}`,
        body: { state: 'active' },
      });
    case 6:
      return call(node.url, 'GET', '/readyz');
    default:
      return call(node.url, 'POST', '/v1/heartbeat', { auth: s.token, body: { state: 'active' } });
  }
}

test('PostgreSQL: no connection leak after 10,000 HTTP requests over two nodes', async (t) => {
  const pg = await postgresFor(t);
  const nodes = await nodesOn(t, pg.url, 2);
  const sessions = await Promise.all(
    Array.from({ length: 20 }, (_, i) => createOn(nodes[i % 2] as RunningVigil, `user-${i}`)),
  );
  const atStart = await backends(pg);
  const HALFWAY = 5000;
  let halfway: Backends | undefined;
  const TOTAL = 10_000;
  const CONCURRENCY = 32;
  const statuses: Record<number, number> = {};

  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < TOTAL; i = next++) {
        const answer = await mixedRequest(nodes[i % 2] as RunningVigil, i, sessions);
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        if (i === HALFWAY) halfway = await backends(pg);
      }
    }),
  );
  const atEnd = await backends(pg);
  t.diagnostic(`answers: ${JSON.stringify(statuses)}`);
  t.diagnostic(
    `connections: ${JSON.stringify(atStart)} at start, ${JSON.stringify(halfway)} after ${HALFWAY} requests, ${JSON.stringify(atEnd)} after ${TOTAL}`,
  );
  // Every request got its expected answer (no 5xx from a starved pool), and the connections the
  // database sees stayed within the two pools and listeners, not one per request.
  assert.deepEqual(Object.keys(statuses).sort(), ['200', '201', '401'], JSON.stringify(statuses));
  assert.equal(statuses[401], TOTAL / 8, 'only the unknown token is refused');
  // Bounded, and not growing: the pools were at their working size halfway (same load since).
  for (const seen of [halfway as Backends, atEnd]) assertBounded(seen, nodes.length);
  assert.ok(atEnd.total <= (halfway as Backends).total, 'no new connections in the second half');
});
