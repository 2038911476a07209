import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { bridgeEvents, type ConfigInput, systemClock } from '@vigil/core';
import { backend, bearer, createSession, heartbeat, logCapture, makeApp } from './helpers.js';

/**
 * The receiver below is written from the server README ("Webhooks", "Verifying a delivery") alone:
 * raw body, `t` and `v1` from `Vigil-Signature`, a 5-minute tolerance, HMAC-SHA256 of `t.body`,
 * constant-time comparison, duplicates dropped by event id.
 */

const SECRET = 'whsec_test_0123456789abcdef';
const TOLERANCE_SECONDS = 300;

/** Verifies one delivery as the README says; returns the parsed event or why it is refused. */
function verify(
  rawBody: Buffer,
  signatureHeader: string | undefined,
  secret: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): { ok: true; event: Record<string, unknown> } | { ok: false; why: string } {
  if (signatureHeader === undefined) return { ok: false, why: 'no signature' };
  let t: string | undefined;
  let v1: string | undefined;
  for (const part of signatureHeader.split(',')) {
    const equals = part.indexOf('=');
    if (equals === -1) continue;
    const key = part.slice(0, equals).trim();
    const value = part.slice(equals + 1).trim();
    if (key === 't') t = value;
    else if (key === 'v1') v1 = value;
  }
  if (t === undefined || v1 === undefined || !/^\d+$/.test(t)) return { ok: false, why: 'malformed' };
  if (Math.abs(nowSeconds - Number(t)) > TOLERANCE_SECONDS) return { ok: false, why: 'stale' };
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  const given = Buffer.from(v1, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, why: 'bad signature' };
  return { ok: true, event: JSON.parse(rawBody.toString('utf8')) };
}

interface Received {
  headers: IncomingMessage['headers'];
  body: Buffer;
  verified: ReturnType<typeof verify>;
}

/** A receiver whose answer each test decides, keeping every delivery and the distinct events. */
async function receiver(
  answer: (attempt: number, body: Record<string, unknown>) => number | 'hang' = () => 200,
) {
  const received: Received[] = [];
  const seen = new Map<string, Record<string, unknown>>(); // deduplicated by event id
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const verified = verify(body, request.headers['vigil-signature'] as string | undefined, SECRET);
      received.push({ headers: request.headers, body, verified });
      if (!verified.ok) {
        response.writeHead(400).end();
        return;
      }
      const id = String(verified.event.id);
      const attempt = received.filter((r) => r.verified.ok && r.verified.event.id === id).length;
      const status = answer(attempt, verified.event);
      if (status === 'hang') return;
      if (status >= 200 && status < 300 && !seen.has(id)) seen.set(id, verified.event);
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/vigil?token=query-secret`;
  return {
    url,
    received,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const POLICIES = { default: { idleTimeout: '10s', absoluteTimeout: '1m', warnBefore: '2s' } };

async function until(predicate: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('outbound webhooks', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  async function setup(
    webhook: { events?: string[] } = {},
    answer?: Parameters<typeof receiver>[0],
    delivery = {},
  ) {
    const hook = await receiver(answer);
    const logs = logCapture();
    const config: ConfigInput = {
      policies: POLICIES,
      webhooks: [{ url: hook.url, secret: SECRET, ...webhook }],
    };
    const t = await makeApp({
      config,
      clock: systemClock as never,
      logger: { level: 'info', stream: logs.stream },
      webhookDelivery: { baseDelayMs: 20, maxDelayMs: 200, timeoutMs: 300, ...delivery },
    });
    cleanups.push(() => t.app.close(), hook.close);
    return { t, hook, logs };
  }

  test('each session event is POSTed, signed; a receiver written from the README verifies it', async () => {
    const { t, hook } = await setup();
    const { token, id } = await createSession(t.app);
    await heartbeat(t.app, token, { state: 'sleeping', params: { tab: 1 } });
    await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    await until(() => hook.seen.size === 2, 3000, 'two events');
    assert.ok(
      hook.received.every((r) => r.verified.ok),
      'every delivery verifies',
    );
    const [created, revoked] = [...hook.seen.values()];
    assert.equal(created?.type, 'session.created');
    assert.equal(revoked?.type, 'session.revoked');
    const session = revoked?.session as Record<string, unknown>;
    assert.equal(session.id, id);
    assert.equal(session.reason, 'revoked');
    assert.equal(session.subject, 'alice');
    assert.ok(!JSON.stringify([...hook.seen.values()]).includes(token), 'never the token');
    assert.deepEqual(Object.keys(created ?? {}).sort(), ['id', 'occurredAt', 'session', 'type']);
    assert.match(String(created?.occurredAt), /^\d{4}-\d\d-\d\dT.*Z$/);
    assert.notEqual(created?.id, revoked?.id, 'one id per event');
    for (const delivery of hook.received) {
      assert.equal(delivery.headers['vigil-event-id'], JSON.parse(delivery.body.toString()).id);
      assert.equal(delivery.headers['content-type'], 'application/json');
    }
    // heartbeat.sleeping is not sent unless asked for.
    assert.ok(![...hook.seen.values()].some((e) => e.type === 'heartbeat.sleeping'));
  });

  test('the signature fails for a changed body, another secret, or an old timestamp', () => {
    const body = Buffer.from('{"id":"x","type":"session.created"}');
    const t = Math.floor(Date.now() / 1000);
    const mac = createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex');
    assert.equal(verify(body, `t=${t},v1=${mac}`, SECRET).ok, true);
    assert.deepEqual(verify(Buffer.from(`${body} `), `t=${t},v1=${mac}`, SECRET), {
      ok: false,
      why: 'bad signature',
    });
    assert.deepEqual(verify(body, `t=${t},v1=${mac}`, 'another-secret-0123456789'), {
      ok: false,
      why: 'bad signature',
    });
    assert.deepEqual(verify(body, `t=${t - 301},v1=${mac}`, SECRET), { ok: false, why: 'stale' });
    assert.deepEqual(verify(body, `v1=${mac}`, SECRET), { ok: false, why: 'malformed' });
  });

  test('only the configured event types are sent, heartbeat.sleeping (with its params) on request', async () => {
    const { t, hook } = await setup({ events: ['heartbeat.sleeping', 'session.revoked'] });
    const { token } = await createSession(t.app);
    await heartbeat(t.app, token, { state: 'sleeping', params: { page: '/inbox' } });
    await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(token) });
    await until(() => hook.seen.size === 2, 3000, 'two events');
    const types = [...hook.seen.values()].map((e) => e.type).sort();
    assert.deepEqual(types, ['heartbeat.sleeping', 'session.revoked']);
    const sleeping = [...hook.seen.values()].find((e) => e.type === 'heartbeat.sleeping');
    assert.deepEqual(sleeping?.params, { page: '/inbox' });
    const revoked = [...hook.seen.values()].find((e) => e.type === 'session.revoked');
    assert.equal((revoked?.session as Record<string, unknown> | undefined)?.reason, 'logout');
  });

  test('5xx, 408 and 429 are retried with the same event id (at-least-once), each attempt freshly signed', async () => {
    const { t, hook } = await setup({ events: ['session.created'] }, (attempt) =>
      attempt === 1 ? 503 : attempt === 2 ? 429 : attempt === 3 ? 408 : 200,
    );
    await createSession(t.app);
    await until(() => hook.seen.size === 1, 3000, 'the delivery');
    assert.equal(hook.received.length, 4);
    assert.equal(new Set(hook.received.map((r) => r.headers['vigil-event-id'])).size, 1);
    assert.ok(hook.received.every((r) => r.verified.ok));
    // The receiver counts a delivery before the dispatcher reads its answer: wait for the metric.
    let metrics = '';
    const deadline = Date.now() + 2000;
    while (!metrics.includes('outcome="delivered"} 1') && Date.now() < deadline) {
      metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.match(metrics, /vigil_webhook_deliveries_total\{outcome="retried"\} 3/);
    assert.match(metrics, /vigil_webhook_deliveries_total\{outcome="delivered"\} 1/);
  });

  test('a receiver that does not answer in time is retried', async () => {
    const { t, hook } = await setup(
      { events: ['session.created'] },
      (attempt) => (attempt === 1 ? 'hang' : 200),
      {
        timeoutMs: 100,
      },
    );
    await createSession(t.app);
    await until(() => hook.seen.size === 1, 3000, 'the delivery after a timeout');
    assert.equal(hook.received.length, 2);
  });

  test('another 4xx drops the delivery with a log line (no retry, no URL query in the log)', async () => {
    const { t, hook, logs } = await setup({ events: ['session.created'] }, () => 410);
    await createSession(t.app);
    await until(() => logs.lines.some((line) => line.includes('dropped')), 3000, 'the log line');
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(hook.received.length, 1);
    const line = JSON.parse(logs.lines.find((l) => l.includes('dropped')) ?? '{}');
    assert.equal(line.status, 410);
    assert.equal(line.type, 'session.created');
    assert.ok(!logs.lines.join('\n').includes('query-secret'));
    assert.ok(!logs.lines.join('\n').includes(SECRET));
  });

  test('attempts are bounded: after the last one the delivery is dropped and logged', async () => {
    const { t, hook, logs } = await setup({ events: ['session.created'] }, () => 500, { maxAttempts: 3 });
    await createSession(t.app);
    await until(() => logs.lines.some((line) => line.includes('every attempt')), 3000, 'the log line');
    assert.equal(hook.received.length, 3);
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /vigil_webhook_deliveries_total\{outcome="exhausted"\} 1/);
  });

  test('an event bridged from another node is not delivered again (that node delivers it), nor counted', async () => {
    const { t, hook } = await setup({ events: ['session.created', 'session.revoked'] });
    let deliver: ((event: unknown) => void) | undefined;
    bridgeEvents(t.events, {
      publish: () => {},
      onRemoteEvent: (listener) => {
        deliver = listener as (event: unknown) => void;
        return () => {};
      },
    });
    const { id } = await createSession(t.app);
    await until(() => hook.seen.size === 1, 3000, 'the local event');
    const lookup = await t.app.vigil.store.get(id, Date.now());
    assert.ok(lookup.kind === 'live' && deliver !== undefined);
    const remote = {
      type: 'session.revoked',
      session: { ...lookup.record, endedAt: Date.now(), reason: 'revoked' },
      at: Date.now(),
    };
    deliver(JSON.parse(JSON.stringify(remote)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(hook.received.length, 1);
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.doesNotMatch(metrics, /^vigil_sessions_ended_total\{reason="revoked"\} 1$/m);
  });

  test('never blocks a request, and the queue is bounded', async () => {
    const { t, hook } = await setup({ events: ['session.created'] }, () => 'hang', {
      maxQueued: 3,
      concurrency: 1,
      timeoutMs: 5000,
    });
    const started = Date.now();
    for (let i = 0; i < 6; i++) await createSession(t.app, { subject: `user${i}` });
    assert.ok(Date.now() - started < 1000, 'creations did not wait for the hanging receiver');
    await until(() => hook.received.length === 1, 2000, 'the first attempt');
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /vigil_webhook_deliveries_total\{outcome="overflow"\} 3/);
    assert.match(metrics, /vigil_webhook_queue_size 3/);
  });
});
