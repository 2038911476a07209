// Fault drill, short version (the long one: `npm run oracle -- --drills`): thousands of malformed
// requests mixed into the oracle's load on one `vigil serve`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noiseDrill } from './drills/noise-under-load.js';
import { call } from './helpers.js';
import { formatReport } from './oracle/simulator.js';

test('3,000 malformed requests mixed into the load: each refused with a clean 4xx, no effect on the good users, the server unharmed', async (t) => {
  const { oracle, noise, server, noiseSessions } = await noiseDrill(t, 'sqlite', {
    users: 400,
    durationMs: 15_000,
    noise: 3000,
  });
  for (const line of formatReport('good users', oracle)) t.diagnostic(line);
  for (const [kind, statuses] of Object.entries(noise.byKind))
    t.diagnostic(`noise ${kind}: ${JSON.stringify(statuses)}`);
  assert.deepEqual(
    noise.problems.slice(0, 20),
    [],
    `${noise.problems.length} malformed requests answered wrongly`,
  );
  assert.equal(noise.sent, 3000);
  const violations = Object.values(oracle.violations).reduce((a, b) => a + b, 0);
  assert.equal(
    violations,
    0,
    `${JSON.stringify(oracle.violations)}\n${JSON.stringify(oracle.examples, null, 2)}`,
  );
  assert.ok((oracle.outcomes['200'] ?? 0) > 1000, JSON.stringify(oracle.outcomes));
  assert.equal(noiseSessions, 0, 'no malformed creation made a session');
  assert.equal((await call(server.url, 'GET', '/healthz')).status, 200);
  assert.equal((await server.stop()).code, 0, server.output());
});
