// The correctness oracle, short version (the long one: `npm run oracle`): a thousand simulated users
// against a real `vigil serve` on each store, every answer judged against the deadlines the users
// can prove from their own requests. Zero zombies, zero wrongful logouts, zero inconsistent answers.
// A 503 `store_unavailable` is allowed and counted (a store call past its bound, which a loaded
// machine can cause): its outcome is unknown, and the judge reasons with both possibilities.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call } from './helpers.js';
import { oracleOnStore } from './oracle/on-store.js';
import { formatReport, type OracleReport } from './oracle/simulator.js';
import type { StoreKind } from './support/stores.js';

/** PostgreSQL commits every creation to disk before answering: fewer users keep its queue honest. */
const USERS: Record<StoreKind, number> = { sqlite: 1000, redis: 1000, postgres: 600 };
const DURATION_MS = 20_000;

function assertSound(report: OracleReport): void {
  const total = Object.values(report.violations).reduce((a, b) => a + b, 0);
  assert.equal(
    total,
    0,
    `violations: ${JSON.stringify(report.violations)}\n${JSON.stringify(report.examples, null, 2)}`,
  );
  // The run tested something: users signed in and out, sessions reached both kinds of deadline,
  // and many requests landed close to a deadline.
  assert.ok(report.sessionsCreated >= report.users, `${report.sessionsCreated} sessions`);
  for (const outcome of [
    '200',
    '204',
    '401 idle_timeout',
    '401 absolute_timeout',
    '401 logout',
    '401 revoked',
  ]) {
    assert.ok(
      (report.outcomes[outcome] ?? 0) > 0,
      `no "${outcome}" answer: ${JSON.stringify(report.outcomes)}`,
    );
  }
  assert.ok(report.closeCalls >= 100, `only ${report.closeCalls} requests near a deadline`);
}

for (const kind of ['sqlite', 'redis', 'postgres'] as const) {
  test(`oracle on ${kind}: ${USERS[kind]} users for ${DURATION_MS / 1000} s, no 200 after a deadline, no 401 before one`, async (t) => {
    const { report, server } = await oracleOnStore(t, kind, {
      users: USERS[kind],
      durationMs: DURATION_MS,
      seed: 7,
    });
    for (const line of formatReport(kind, report)) t.diagnostic(line);
    assertSound(report);
    assert.equal((await call(server.url, 'GET', '/healthz')).status, 200);
    assert.equal((await server.stop()).code, 0, server.output());
  });
}
