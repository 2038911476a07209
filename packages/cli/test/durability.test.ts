import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { API_KEY, call, startVigil, tempDir, writeJson } from './helpers.js';

// Principle 3: a creation or revocation that was acknowledged survives a crash. SIGKILL gives the
// process no chance to flush anything, so whatever survives was durable before the answer.
test('SIGKILL, restart on the same SQLite file: acknowledged sessions and revocations are intact', async (t) => {
  const dir = tempDir(t);
  const config = writeJson(dir, 'vigil.json', {
    policies: { default: { idleTimeout: '10m', absoluteTimeout: '1h' } },
  });
  const args = ['--store', `sqlite:${join(dir, 'vigil.db')}`, '--config', config];

  const first = await startVigil(t, args);
  const created = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      call(first.url, 'POST', '/v1/sessions', { auth: API_KEY, body: { subject: `user-${i % 7}` } }),
    ),
  );
  for (const answer of created) assert.equal(answer.status, 201, JSON.stringify(answer.body));
  const sessions = created.map((answer) => ({ token: answer.body.token, id: answer.body.session.id }));
  const revoked = sessions.filter((_, i) => i % 3 === 0);
  const live = sessions.filter((_, i) => i % 3 !== 0);
  for (const answer of await Promise.all(
    revoked.map((s) =>
      call(first.url, 'DELETE', `/v1/sessions/${encodeURIComponent(s.id)}`, { auth: API_KEY }),
    ),
  )) {
    assert.equal(answer.status, 204);
  }
  const killed = await first.stop('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');

  const second = await startVigil(t, args);
  const [liveAnswers, revokedAnswers] = await Promise.all([
    Promise.all(live.map((s) => call(second.url, 'GET', '/v1/session', { auth: s.token }))),
    Promise.all(revoked.map((s) => call(second.url, 'GET', '/v1/session', { auth: s.token }))),
  ]);
  for (const [i, answer] of liveAnswers.entries()) {
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.id, live[i]?.id);
  }
  for (const answer of revokedAnswers) {
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error.code, 'session_ended');
    assert.equal(answer.body.error.reason, 'revoked');
  }
  // A revoked token stays refused for heartbeats too, not only for reads.
  const heartbeat = await call(second.url, 'POST', '/v1/heartbeat', {
    auth: revoked[0]?.token,
    body: { state: 'active' },
  });
  assert.equal(heartbeat.status, 401);
  assert.equal(heartbeat.body.error.reason, 'revoked');
  assert.equal((await second.stop('SIGTERM')).code, 0);
});
