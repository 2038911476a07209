import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import type { ConfigInput } from '@vigil/core';
import type { FastifyInstance } from 'fastify';
import { bearer, createSession, errorCode, heartbeat, logCapture, makeApp } from './helpers.js';

/** A real local HTTP server playing the upstream; `answer` decides each reply by its number. */
async function upstream(answer: (n: number) => number | { status: number; delayMs: number }) {
  const bodies: Record<string, unknown>[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString()));
      const decided = answer(bodies.length);
      const { status, delayMs } = typeof decided === 'number' ? { status: decided, delayMs: 0 } : decided;
      const timer = setTimeout(() => {
        if (!response.destroyed) response.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      }, delayMs);
      response.on('close', () => clearTimeout(timer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/vigil/heartbeat`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const POLICIES = { default: { idleTimeout: '10s', absoluteTimeout: '1h', warnBefore: '2s' } };

async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 3000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function metric(app: FastifyInstance, line: RegExp): Promise<boolean> {
  return line.test((await app.inject({ method: 'GET', url: '/metrics' })).body);
}

describe('heartbeat relay', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  async function setup(
    answer: Parameters<typeof upstream>[0],
    relay: Partial<NonNullable<ConfigInput['relay']>> = {},
  ) {
    const up = await upstream(answer);
    const logs = logCapture();
    const t = await makeApp({
      config: {
        policies: POLICIES,
        heartbeatRateLimit: { burst: 1000, perSecond: 100 },
        relay: { url: up.url, timeout: '200ms', failureThreshold: 3, probeInterval: '300ms', ...relay },
      },
      logger: { level: 'info', stream: logs.stream },
      relayRetry: { retries: 2, baseDelayMs: 20 },
    });
    cleanups.push(() => t.app.close(), up.close);
    return { t, up, logs };
  }

  test('200: each accepted heartbeat is forwarded as {sessionId, subject, state, params}; the session goes on', async () => {
    const { t, up } = await setup(() => 200);
    const { token, id } = await createSession(t.app, { subject: 'carol' });
    assert.equal((await heartbeat(t.app, token, { state: 'active' })).statusCode, 200);
    assert.equal((await heartbeat(t.app, token, { state: 'sleeping', params: { doc: 42 } })).statusCode, 200);
    await until(() => up.bodies.length === 2, 2000, 'two relays');
    assert.deepEqual(
      up.bodies.sort((a, b) => String(a.state).localeCompare(String(b.state))),
      [
        { sessionId: id, subject: 'carol', state: 'active', params: {} },
        { sessionId: id, subject: 'carol', state: 'sleeping', params: { doc: 42 } },
      ],
    );
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(token) })).statusCode,
      200,
    );
    await until(
      () => metric(t.app, /^vigil_relay_requests_total\{outcome="ok"\} 2$/m),
      1000,
      'the ok metric',
    );
  });

  test('refused heartbeats are not relayed', async () => {
    const { t, up } = await setup(() => 200);
    const unknown = await heartbeat(t.app, `vgl_${'C'.repeat(43)}`);
    assert.equal(unknown.statusCode, 401);
    const { token } = await createSession(t.app);
    t.clock.advance(11_000);
    assert.equal((await heartbeat(t.app, token)).statusCode, 401);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(up.bodies.length, 0);
  });

  test('401: the session ends with reason upstream_rejected (session.revoked), the next heartbeat learns it', async () => {
    const { t, up } = await setup(() => 401);
    const { token, id } = await createSession(t.app);
    const first = await heartbeat(t.app, token);
    assert.equal(first.statusCode, 200, 'the heartbeat itself does not wait for the upstream');
    await until(() => t.seen.some((e) => e.type === 'session.revoked'), 2000, 'the revocation');
    const revoked = t.seen.find((e) => e.type === 'session.revoked');
    assert.equal(revoked?.session.id, id);
    assert.equal(revoked?.session.reason, 'upstream_rejected');
    const next = await heartbeat(t.app, token);
    assert.equal(next.statusCode, 401);
    assert.equal(errorCode(next), 'session_ended');
    assert.equal(next.json().error.reason, 'upstream_rejected');
    const read = await t.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(token) });
    assert.equal(read.json().error.reason, 'upstream_rejected');
    assert.equal(up.bodies.length, 1, 'a 401 is an answer: not retried');
    assert.equal(t.seen.filter((e) => e.type === 'session.revoked').length, 1);
  });

  test('5xx then recovery: the heartbeat is retried with backoff and gets through', async () => {
    const { t, up } = await setup((n) => (n <= 2 ? 502 : 200));
    const { token, id } = await createSession(t.app);
    assert.equal((await heartbeat(t.app, token)).statusCode, 200);
    await until(() => up.bodies.length === 3, 2000, 'two retries');
    assert.ok(up.bodies.every((body) => body.sessionId === id));
    await until(() => metric(t.app, /^vigil_relay_requests_total\{outcome="ok"\} 1$/m), 1000, 'ok');
    assert.ok(await metric(t.app, /^vigil_relay_requests_total\{outcome="failed"\} 2$/m));
    assert.ok(await metric(t.app, /^vigil_relay_circuit_open 0$/m));
    assert.equal((await heartbeat(t.app, token)).statusCode, 200);
  });

  test('5xx forever: the circuit opens (metric, log), relaying stops, probes follow, local enforcement continues', async () => {
    let healthy = false;
    const { t, up, logs } = await setup(() => (healthy ? 200 : 500), {
      failureThreshold: 3,
      probeInterval: '300ms',
    });
    const { token } = await createSession(t.app);
    assert.equal((await heartbeat(t.app, token)).statusCode, 200);
    await until(() => metric(t.app, /^vigil_relay_circuit_open 1$/m), 2000, 'the circuit to open');
    assert.ok(logs.lines.some((line) => line.includes('relay circuit open')));
    const atOpen = up.bodies.length;
    assert.equal(atOpen, 3, 'one heartbeat, retried twice: three failures open the circuit');

    // Heartbeats go on being answered by Vigil alone, and are not relayed.
    for (let i = 0; i < 5; i++) {
      t.clock.advance(1000);
      assert.equal((await heartbeat(t.app, token, { state: 'active' })).statusCode, 200);
    }
    assert.equal(up.bodies.length, atOpen);
    assert.ok(await metric(t.app, /^vigil_relay_requests_total\{outcome="skipped"\} 5$/m));
    // A probe (the latest withheld heartbeat) every probeInterval, still failing.
    await until(() => up.bodies.length >= atOpen + 2, 2000, 'two probes');
    assert.ok(await metric(t.app, /^vigil_relay_circuit_open 1$/m));

    // Local enforcement: the idle timeout still ends the session.
    const { token: other } = await createSession(t.app, { subject: 'dave' });
    t.clock.advance(10_000);
    const late = await heartbeat(t.app, other);
    assert.equal(late.statusCode, 401);
    assert.equal(late.json().error.reason, 'idle_timeout');

    // The upstream comes back: the next probe closes the circuit, relaying resumes.
    const { token: fresh } = await createSession(t.app, { subject: 'erin' });
    assert.equal((await heartbeat(t.app, fresh)).statusCode, 200); // withheld: it becomes the probe
    healthy = true;
    await until(() => metric(t.app, /^vigil_relay_circuit_open 0$/m), 2000, 'the circuit to close');
    assert.ok(logs.lines.some((line) => line.includes('relay circuit closed')));
    const atClose = up.bodies.length;
    assert.equal((await heartbeat(t.app, fresh)).statusCode, 200);
    await until(() => up.bodies.length === atClose + 1, 1000, 'relaying to resume');
  });

  test('slow upstream: the heartbeat answers at once; the relay times out and counts a failure', async () => {
    const { t, up } = await setup(() => ({ status: 200, delayMs: 1500 }), {
      timeout: '150ms',
      failureThreshold: 10,
    });
    const { token } = await createSession(t.app);
    const started = Date.now();
    const response = await heartbeat(t.app, token);
    assert.equal(response.statusCode, 200);
    assert.ok(Date.now() - started < 100, `the heartbeat took ${Date.now() - started} ms`);
    await until(() => up.bodies.length === 3, 3000, 'three attempts');
    await until(
      () => metric(t.app, /^vigil_relay_requests_total\{outcome="failed"\} 3$/m),
      2000,
      'three timeouts',
    );
    assert.equal((await heartbeat(t.app, token)).statusCode, 200, 'the session is unaffected');
  });
});
