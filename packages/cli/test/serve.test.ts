import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { API_KEY, call, runVigil, sleep, startVigil, tempDir, writeJson } from './helpers.js';

test('serve: refuses to start without an API key, with a short one, or on an unsupported store', async () => {
  const [noKey, shortKey, unknown, badPort, noRedis, noPostgres] = await Promise.all([
    runVigil(['serve', '--store', 'memory', '--port', '0'], { VIGIL_API_KEY: undefined }),
    runVigil(['serve', '--store', 'memory', '--port', '0'], { VIGIL_API_KEY: 'short' }),
    runVigil(['serve', '--store', 'mysql://vigil@127.0.0.1:1/vigil', '--port', '0']),
    runVigil(['serve', '--store', 'memory', '--port', 'eighty']),
    // Port 1: nothing listens there, so the Redis store (loaded only for this spec) cannot connect.
    runVigil(['serve', '--store', 'redis://127.0.0.1:1', '--port', '0']),
    runVigil(['serve', '--store', 'postgres://vigil@127.0.0.1:1/vigil', '--port', '0']),
  ]);
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /VIGIL_API_KEY is not set/);
  assert.equal(shortKey.code, 1);
  assert.match(shortKey.stderr, /too short/);
  assert.equal(unknown.code, 2, 'a store spec that cannot be right is bad usage');
  assert.match(unknown.stderr, /unknown store/);
  assert.equal(badPort.code, 2);
  assert.equal(noRedis.code, 1);
  assert.match(noRedis.stderr, /Redis store/);
  assert.equal(noPostgres.code, 1);
  assert.match(noPostgres.stderr, /cannot open PostgreSQL store/);
});

test('serve: a place it cannot listen on or keep its file in is one clear line, never a stack trace', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'a-file'), '');
  const holder = await startVigil(t, ['--store', 'memory']);
  t.after(() => holder.stop());
  const takenPort = new URL(holder.url).port;
  const [badHost, foreignAddress, fileInTheWay, noHost, taken] = await Promise.all([
    runVigil(['serve', '--store', 'memory', '--host', '256.1.1.1', '--port', '0']),
    // TEST-NET-1: reserved for documentation, so no interface of this machine has it.
    runVigil(['serve', '--store', 'memory', '--host', '192.0.2.1', '--port', '0']),
    runVigil(['serve', '--store', `sqlite:${join(dir, 'a-file', 'vigil.db')}`, '--port', '0']),
    runVigil(['serve', '--store', 'redis://', '--port', '0']),
    runVigil(['serve', '--store', `sqlite:${join(dir, 'v.db')}`, '--port', takenPort]),
  ]);
  for (const [result, message] of [
    [badHost, /256\.1\.1\.1 is not an address of this machine \(set --host\)/],
    [foreignAddress, /192\.0\.2\.1 is not an address of this machine/],
    [fileInTheWay, /cannot create the folder .*a-file for the SQLite store: a file is in the way/],
    [taken, /already in use/],
  ] as const) {
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
  }
  assert.equal(noHost.code, 2, '`redis://` alone must not quietly mean whatever Redis runs on 6379');
  assert.match(noHost.stderr, /store "redis:\/\/" names no host/);
  // A server that never listened has nothing to sweep or purge: no warnings about a closed store.
  assert.equal(taken.stdout, '', taken.stdout);
});

test('serve --dev: generates a key, prints it once to stderr, never logs it', async (t) => {
  const vigil = await startVigil(t, ['--store', 'memory', '--dev', '--log-level', 'info'], {
    VIGIL_API_KEY: undefined,
  });
  const key = /API key for this run[^:]*: (\S+)/.exec(vigil.output())?.[1];
  assert.ok(key, vigil.output());
  const created = await call(vigil.url, 'POST', '/v1/sessions', { auth: key, body: { subject: 'dev' } });
  assert.equal(created.status, 201);
  assert.equal((await vigil.stop('SIGINT')).code, 0);
  const occurrences = vigil.output().split(key).length - 1;
  assert.equal(occurrences, 1, 'the key appears exactly once (the line that announces it)');
  assert.ok(!vigil.output().includes(created.body.token), 'no session token in any log line');
});

test('serve: SIGTERM stops it cleanly with exit 0 within a few seconds', async (t) => {
  const dir = tempDir(t);
  const vigil = await startVigil(t, ['--store', `sqlite:${join(dir, 'vigil.db')}`]);
  assert.equal((await call(vigil.url, 'GET', '/healthz')).status, 200);
  const started = Date.now();
  const { code } = await vigil.stop('SIGTERM');
  assert.equal(code, 0, vigil.output());
  assert.ok(Date.now() - started < 5000);
  assert.match(vigil.output(), /Vigil stopped/);
});

// The contract from outside, against the real process and the real SQLite store, with a 2 s idle
// timeout: the scenarios run side by side so that the whole test takes about 4.5 s.
test('contract: idle and absolute timeouts, active vs sleeping heartbeats, health and metrics', async (t) => {
  const dir = tempDir(t);
  const config = writeJson(dir, 'vigil.json', {
    policies: {
      default: { idleTimeout: '2s', absoluteTimeout: '1m' },
      short: { idleTimeout: '2s', absoluteTimeout: '4s' },
    },
    heartbeatRateLimit: { burst: 50, perSecond: 20 },
  });
  const vigil = await startVigil(t, ['--store', `sqlite:${join(dir, 'vigil.db')}`, '--config', config]);
  const { url } = vigil;

  assert.equal((await call(url, 'GET', '/healthz')).status, 200);
  assert.equal((await call(url, 'GET', '/readyz')).status, 200);

  const create = async (policy?: string) => {
    const answer = await call(url, 'POST', '/v1/sessions', {
      auth: API_KEY,
      body: policy === undefined ? { subject: 'alice' } : { subject: 'alice', policy },
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.equal(typeof answer.body.token, 'string');
    assert.equal(answer.body.session.token, undefined, 'the admin view never holds the token');
    return answer.body.token as string;
  };
  const [kept, idle, sleeping, capped] = await Promise.all([create(), create(), create(), create('short')]);
  const t0 = Date.now();
  const heartbeat = (token: string, state: 'active' | 'sleeping') =>
    call(url, 'POST', '/v1/heartbeat', { auth: token, body: { state } });

  const first = await heartbeat(kept, 'active');
  assert.equal(first.status, 200);
  const status = first.body;
  assert.equal(status.policy, 'default');
  assert.equal(status.state, 'active');
  assert.ok(status.idleExpiresInMs > 1500 && status.idleExpiresInMs <= 2000, String(status.idleExpiresInMs));
  assert.ok(status.absoluteExpiresInMs > 50_000);
  assert.equal(status.heartbeatIntervalMs, 666);
  for (const field of ['idleExpiresAt', 'absoluteExpiresAt', 'serverTime']) {
    assert.match(status[field], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, field);
  }

  // Active heartbeats every 500 ms keep `kept` and `capped` alive past the 2 s idle timeout;
  // sleeping ones do not keep `sleeping` alive; `idle` gets nothing.
  const outcomes: { at: number; name: string; status: number; reason?: string }[] = [];
  const beat = async (name: string, token: string, state: 'active' | 'sleeping') => {
    const answer = await heartbeat(token, state);
    outcomes.push({ at: Date.now() - t0, name, status: answer.status, reason: answer.body?.error?.reason });
  };
  while (Date.now() - t0 < 4600) {
    await Promise.all([
      beat('kept', kept, 'active'),
      beat('capped', capped, 'active'),
      beat('sleeping', sleeping, 'sleeping'),
    ]);
    if (Date.now() - t0 < 1500) {
      assert.equal((await call(url, 'GET', '/v1/session', { auth: idle })).status, 200);
    }
    await sleep(500);
  }
  const of = (name: string) => outcomes.filter((o) => o.name === name);
  assert.ok(
    of('kept').every((o) => o.status === 200),
    JSON.stringify(of('kept')),
  );
  assert.ok(of('kept').some((o) => o.at > 4000));

  const sleepingEnd = of('sleeping').find((o) => o.status !== 200);
  assert.ok(sleepingEnd, 'sleeping heartbeats do not extend the session');
  assert.equal(sleepingEnd.status, 401);
  assert.equal(sleepingEnd.reason, 'idle_timeout');
  assert.ok(sleepingEnd.at >= 1900, `ended at ${sleepingEnd.at} ms, before its 2 s deadline`);
  assert.ok(
    of('sleeping')
      .filter((o) => o.at < 1900)
      .every((o) => o.status === 200),
  );

  const cappedEnd = of('capped').find((o) => o.status !== 200);
  assert.ok(cappedEnd, 'an active session still ends at its absolute deadline');
  assert.equal(cappedEnd.status, 401);
  assert.equal(cappedEnd.reason, 'absolute_timeout');
  assert.ok(cappedEnd.at >= 3900, `ended at ${cappedEnd.at} ms`);

  const idleAnswer = await call(url, 'GET', '/v1/session', { auth: idle });
  assert.equal(idleAnswer.status, 401);
  assert.equal(idleAnswer.body.error.code, 'session_ended');
  assert.equal(idleAnswer.body.error.reason, 'idle_timeout');
  // A heartbeat after the deadline never revives a session.
  const late = await heartbeat(idle, 'active');
  assert.equal(late.status, 401);
  assert.equal(late.body.error.reason, 'idle_timeout');

  const metrics = await call(url, 'GET', '/metrics');
  assert.equal(metrics.status, 200);
  for (const name of [
    'vigil_sessions_created_total',
    'vigil_sessions_ended_total',
    'vigil_sessions_live',
    'vigil_heartbeats_total',
    'vigil_warnings_total',
    'vigil_http_request_duration_seconds',
    'vigil_store_errors_total',
  ]) {
    assert.match(metrics.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  assert.match(metrics.body, /^vigil_sessions_ended_total\{[^}]*reason="idle_timeout"[^}]*\} [1-9]/m);
  assert.ok(!metrics.body.includes(kept), 'no token in metrics');
  assert.equal((await vigil.stop('SIGTERM')).code, 0);
});
