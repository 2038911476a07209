// Several real `vigil serve` processes on one shared store (Redis or PostgreSQL, started by the test):
// starting them, talking to them, watching their streams and webhooks, and running traffic through
// them while the store misbehaves. Shared by the Redis and the PostgreSQL multi-node tests.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { TestContext } from 'node:test';
import {
  type Answer,
  API_KEY,
  call,
  type RunningVigil,
  sleep,
  startVigil,
  tempDir,
  writeJson,
} from '../helpers.js';

type T = Pick<TestContext, 'after' | 'diagnostic'>;

/** `count` vigil processes on the store `spec` with the given config (the rate limit raised for traffic). */
export async function nodesOn(
  t: T,
  spec: string,
  count: number,
  config: object = {},
): Promise<RunningVigil[]> {
  const path = writeJson(tempDir(t), 'vigil.json', {
    policies: { default: { idleTimeout: '1m', absoluteTimeout: '1h' } },
    heartbeatRateLimit: { burst: 100_000, perSecond: 100_000 },
    ...config,
  });
  return Promise.all(Array.from({ length: count }, () => startVigil(t, ['--store', spec, '--config', path])));
}

export async function createOn(node: RunningVigil, subject: string): Promise<{ token: string; id: string }> {
  const answer = await call(node.url, 'POST', '/v1/sessions', { auth: API_KEY, body: { subject } });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return { token: answer.body.token, id: answer.body.session.id };
}

export const heartbeat = (node: RunningVigil, token: string) =>
  call(node.url, 'POST', '/v1/heartbeat', { auth: token, body: { state: 'active' } });

/** A Prometheus sample's value (0 when the series is absent). */
export function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** Retries `check` until it is true; false if it never was within `withinMs`. */
export async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

export interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
  at: number;
}

/** An open `/v1/events` stream: the parsed events, each with when it arrived. */
export async function openStream(url: string, token: string) {
  const controller = new AbortController();
  const response = await fetch(`${url}/v1/events`, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  const events: StreamEvent[] = [];
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
    return events.find((e) => e.event === name) as StreamEvent;
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
export async function webhookReceiver(
  t: T,
): Promise<{ url: string; received: { type: string; id: string }[] }> {
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

export interface Beat {
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
export function traffic(nodes: RunningVigil[], tokens: string[], workers = 4) {
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

/** Statuses counted, e.g. `{"200": 812, "503 store_unavailable": 40}`. */
export const tally = (beats: Beat[]) =>
  beats.reduce<Record<string, number>>((counts, b) => {
    const key = b.status === 200 ? '200' : `${b.status} ${b.code}`;
    counts[key] = (counts[key] ?? 0) + 1;
    return counts;
  }, {});

/** Every answer 200, or 503 `store_unavailable` with Retry-After, within `maxMs`: never 401. */
export function assertOnly200Or503(beats: Beat[], maxMs: number): void {
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

/** How a drill takes the shared store down and brings it back (same address, same data if it keeps any). */
export interface StoreOutage {
  down(): Promise<void>;
  up(): Promise<void>;
}

/**
 * Takes the store down under traffic, checks the answers and `/readyz` while it is down, brings it
 * back and resolves once every node answers a new session's heartbeat again (failing after 5 s).
 * `before` are the answers that ended before the store began coming back, `after` the rest.
 */
export async function outageUnderTraffic(
  t: T,
  outage: StoreOutage,
  nodes: RunningVigil[],
  tokens: string[],
  downMs = 1500,
) {
  const load = traffic(nodes, tokens);
  await sleep(300);
  await outage.down();
  const downAt = Date.now();
  await sleep(downMs);
  const readyz = await Promise.all(nodes.map((node) => call(node.url, 'GET', '/readyz')));
  assert.deepEqual(
    readyz.map((r) => r.status),
    nodes.map(() => 503),
  );
  // From here on a node may reach the store again at any moment (it reconnects on its own).
  const restartingAt = Date.now();
  await outage.up();
  let fresh: { token: string; id: string } | undefined;
  const recovered = await eventually(async () => {
    fresh ??= await createOn(nodes[0] as RunningVigil, 'after-restart');
    const answers = await Promise.all(nodes.map((node) => heartbeat(node, fresh?.token ?? '')));
    return answers.every((answer) => answer.status === 200);
  }, 5000);
  const recoveredMs = Date.now() - restartingAt;
  const beats = await load.stop();
  assert.ok(recovered, 'every node serves again within 5 s of the store coming back');
  const whileDown = beats.filter((b) => b.startedAt >= downAt + 50 && b.startedAt + b.ms < restartingAt);
  assert.ok(whileDown.length > 0, 'requests were answered while the store was down');
  assert.ok(
    whileDown.every((b) => b.status === 503 && b.code === 'store_unavailable' && b.retryAfter !== null),
    `only 503 + Retry-After while the store was down: ${JSON.stringify(tally(whileDown))}`,
  );
  const before = beats.filter((b) => b.startedAt + b.ms < restartingAt);
  const slowest = Math.max(...beats.map((b) => b.ms));
  t.diagnostic(`while down: ${JSON.stringify(tally(whileDown))}; all: ${JSON.stringify(tally(beats))}`);
  t.diagnostic(
    `slowest answer ${slowest} ms; every node served again ${recoveredMs} ms after the restart began`,
  );
  return { beats, before, after: beats.filter((b) => !before.includes(b)), recoveredMs };
}
