// Several real `vigil serve` processes on one real Redis (started here on a free port): one truth for
// sessions, cross-node events, exactly-once expiry, and what a frozen, killed or restarted Redis does.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type TestContext, test } from 'node:test';
import { type RedisServer, startRedis } from '../../store-redis/test/redis-server.js';
import {
  type Answer,
  API_KEY,
  call,
  type RunningVigil,
  sleep,
  startVigil,
  tempDir,
  writeJson,
} from './helpers.js';

type T = TestContext;

/** Redis for one test, stopped after it. */
async function redisFor(t: T, persistence: 'none' | 'aof' = 'none'): Promise<RedisServer> {
  const redis = await startRedis({ persistence });
  t.after(() => redis.stop());
  return redis;
}

/** `count` vigil processes on `redis` with the given config (the rate limit raised for traffic). */
async function nodesOn(
  t: T,
  redis: RedisServer,
  count: number,
  config: object = {},
): Promise<RunningVigil[]> {
  const path = writeJson(tempDir(t), 'vigil.json', {
    policies: { default: { idleTimeout: '1m', absoluteTimeout: '1h' } },
    heartbeatRateLimit: { burst: 100_000, perSecond: 100_000 },
    ...config,
  });
  return Promise.all(
    Array.from({ length: count }, () => startVigil(t, ['--store', redis.url, '--config', path])),
  );
}

async function createOn(node: RunningVigil, subject: string): Promise<{ token: string; id: string }> {
  const answer = await call(node.url, 'POST', '/v1/sessions', { auth: API_KEY, body: { subject } });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return { token: answer.body.token, id: answer.body.session.id };
}

const heartbeat = (node: RunningVigil, token: string) =>
  call(node.url, 'POST', '/v1/heartbeat', { auth: token, body: { state: 'active' } });

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** Retries `check` until it is true; false if it never was within `withinMs`. */
async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

/** An open `/v1/events` stream: the parsed events, each with when it arrived. */
async function openStream(url: string, token: string) {
  const controller = new AbortController();
  const response = await fetch(`${url}/v1/events`, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  const events: { event: string; data: Record<string, unknown>; at: number }[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event !== undefined && data !== undefined) {
            events.push({ event, data: JSON.parse(data), at: Date.now() });
          }
        }
      }
    } catch {
      // closed by the test
    }
  })();
  const waitFor = async (name: string, withinMs: number) => {
    const ok = await eventually(async () => events.some((e) => e.event === name), withinMs);
    assert.ok(ok, `no "${name}" event within ${withinMs} ms: ${JSON.stringify(events)}`);
    return events.find((e) => e.event === name) as (typeof events)[number];
  };
  return {
    events,
    waitFor,
    close: async () => {
      controller.abort();
      await reading;
    },
  };
}

/** Collects webhook deliveries (answers 204 at once, so nothing is retried). */
async function webhookReceiver(t: T): Promise<{ url: string; received: { type: string; id: string }[] }> {
  const received: { type: string; id: string }[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const payload = JSON.parse(body);
      received.push({ type: payload.type, id: payload.session.id });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/hook`, received };
}

interface Beat {
  status: number;
  code: string | undefined;
  retryAfter: string | null;
  startedAt: number;
  ms: number;
}

/**
 * Heartbeats from `workers` loops, round-robin over nodes and tokens, until stopped: the traffic a
 * drill runs under. Every answer is kept with when it started and how long it took.
 */
function traffic(nodes: RunningVigil[], tokens: string[], workers = 4) {
  const beats: Beat[] = [];
  let running = true;
  let next = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const i = next++;
      const node = nodes[i % nodes.length] as RunningVigil;
      const token = tokens[i % tokens.length] as string;
      const startedAt = Date.now();
      let answer: Answer;
      try {
        answer = await heartbeat(node, token);
      } catch {
        beats.push({ status: 0, code: 'network', retryAfter: null, startedAt, ms: Date.now() - startedAt });
        continue;
      }
      beats.push({
        status: answer.status,
        code: answer.body?.error?.code,
        retryAfter: answer.headers.get('retry-after'),
        startedAt,
        ms: Date.now() - startedAt,
      });
      if (answer.status !== 200) await sleep(20);
    }
  });
  return {
    beats,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return beats;
    },
  };
}

/** Statuses counted, e.g. `{"200": 812, "503": 40}`. */
const tally = (beats: Beat[]) =>
  beats.reduce<Record<string, number>>((counts, b) => {
    const key = b.status === 200 ? '200' : `${b.status} ${b.code}`;
    counts[key] = (counts[key] ?? 0) + 1;
    return counts;
  }, {});

/** Every answer 200, or 503 `store_unavailable` with Retry-After, within the store timeout: never 401. */
function assertOnly200Or503(beats: Beat[], maxMs: number): void {
  const summary = JSON.stringify(tally(beats));
  for (const beat of beats) {
    assert.notEqual(beat.status, 401, `a 401 during the outage: ${summary}`);
    if (beat.status === 200) continue;
    assert.equal(beat.status, 503, summary);
    assert.equal(beat.code, 'store_unavailable', summary);
    assert.ok(beat.retryAfter !== null && Number(beat.retryAfter) >= 1, 'Retry-After on every 503');
  }
  const slowest = Math.max(...beats.map((b) => b.ms));
  assert.ok(slowest <= maxMs, `slowest answer ${slowest} ms (limit ${maxMs} ms): ${summary}`);
}

// The store's command timeout (1 s: RedisStore's default, under the server's 2 s storeTimeout), plus
// room for a loaded test machine.
const OUTAGE_ANSWER_MS = 2500;

test('two nodes: a session made on A lives on B; a revocation on A is refused on B at once and pushed to its streams', async (t) => {
  const redis = await redisFor(t);
  const [a, b] = (await nodesOn(t, redis, 2)) as [RunningVigil, RunningVigil];

  const alice = await createOn(a, 'alice');
  const onB = await heartbeat(b, alice.token);
  assert.equal(onB.status, 200, JSON.stringify(onB.body));
  assert.equal(onB.body.id, alice.id);
  assert.equal((await call(b.url, 'GET', `/v1/sessions/${alice.id}`, { auth: API_KEY })).status, 200);

  // B streams alice's events; the revocation happens on A. B refuses the very next request (the
  // store is the truth), and B's stream hears it through the cross-node events.
  const stream = await openStream(b.url, alice.token);
  t.after(() => stream.close());
  await stream.waitFor('status', 2000);
  const revokedAt = Date.now();
  assert.equal((await call(a.url, 'DELETE', `/v1/sessions/${alice.id}`, { auth: API_KEY })).status, 204);
  const refused = await heartbeat(b, alice.token);
  assert.equal(refused.status, 401);
  assert.equal(refused.body.error.code, 'session_ended');
  assert.equal(refused.body.error.reason, 'revoked');
  const ended = await stream.waitFor('ended', 2000);
  assert.equal(ended.data.reason, 'revoked');
  assert.ok(ended.at - revokedAt < 1000, `B's stream heard the revocation after ${ended.at - revokedAt} ms`);

  // The other way round: a logout on B is refused on A.
  const bob = await createOn(b, 'bob');
  assert.equal((await heartbeat(a, bob.token)).status, 200);
  assert.equal((await call(b.url, 'DELETE', '/v1/session', { auth: bob.token })).status, 204);
  const bobOnA = await heartbeat(a, bob.token);
  assert.equal(bobOnA.status, 401);
  assert.equal(bobOnA.body.error.reason, 'logout');

  for (const node of [a, b]) assert.equal((await node.stop()).code, 0, node.output());
});

// Counted two ways: each node's `vigil_sessions_ended_total{reason="idle_timeout"}` (the server counts
// only events that happened on that node, not those relayed from others), summed over the nodes; and
// a webhook receiver that every node delivers its own events to. Some sessions are left to the three
// sweepers, which race for them; the others are also read on all three nodes just after their
// deadline, so the read path races the sweepers as well.
test('three nodes: exactly one expiry per expired session, in the metrics and the webhooks', async (t) => {
  const redis = await redisFor(t);
  const hooks = await webhookReceiver(t);
  const nodes = await nodesOn(t, redis, 3, {
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
});

test('Redis frozen (SIGSTOP) mid-traffic: 503 within the store timeout, never 401; SIGCONT: all resume, no session lost', async (t) => {
  const redis = await redisFor(t);
  const nodes = await nodesOn(t, redis, 2);
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

/**
 * Kills Redis under traffic, checks the answers while it is down, restarts it (same port, same
 * directory) and resolves once every node answers a new session's heartbeat again.
 */
async function killAndRestart(t: T, redis: RedisServer, nodes: RunningVigil[], tokens: string[]) {
  const load = traffic(nodes, tokens);
  await sleep(300);
  await redis.kill();
  const killedAt = Date.now();
  await sleep(1500);
  const readyz = await Promise.all(nodes.map((node) => call(node.url, 'GET', '/readyz')));
  assert.deepEqual(
    readyz.map((r) => r.status),
    nodes.map(() => 503),
  );
  // From here on a node may reach the new Redis at any moment (it reconnects on its own).
  const restartingAt = Date.now();
  await redis.restart();
  let fresh: { token: string; id: string } | undefined;
  const recovered = await eventually(async () => {
    fresh ??= await createOn(nodes[0] as RunningVigil, 'after-restart');
    const answers = await Promise.all(nodes.map((node) => heartbeat(node, fresh?.token ?? '')));
    return answers.every((answer) => answer.status === 200);
  }, 5000);
  const recoveredMs = Date.now() - restartingAt;
  const beats = await load.stop();
  assert.ok(recovered, 'every node serves again within 5 s of Redis restarting');
  const whileDown = beats.filter((b) => b.startedAt >= killedAt + 50 && b.startedAt + b.ms < restartingAt);
  assert.ok(whileDown.length > 0, 'requests were answered while Redis was down');
  assert.ok(
    whileDown.every((b) => b.status === 503 && b.code === 'store_unavailable'),
    `only 503 while Redis was down: ${JSON.stringify(tally(whileDown))}`,
  );
  const before = beats.filter((b) => b.startedAt + b.ms < restartingAt);
  const slowest = Math.max(...beats.map((b) => b.ms));
  t.diagnostic(`while down: ${JSON.stringify(tally(whileDown))}; all: ${JSON.stringify(tally(beats))}`);
  t.diagnostic(
    `slowest answer ${slowest} ms; every node served again ${recoveredMs} ms after the restart began`,
  );
  return { beats, before, after: beats.filter((b) => !before.includes(b)) };
}

test('Redis killed and restarted with persistence off: 503 while down, never 401; after: the sessions Redis lost answer 401 unauthenticated', async (t) => {
  // `--save "" --appendonly no`: Redis keeps nothing across a restart. The sessions it held are gone,
  // so their tokens are unknown: 401 `unauthenticated` is the honest answer, not a Vigil bug.
  const redis = await redisFor(t, 'none');
  const nodes = await nodesOn(t, redis, 2);
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
  const nodes = await nodesOn(t, redis, 2);
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
