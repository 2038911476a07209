// Fault drill, short version (the long one: `npm run oracle -- --drills`): `vigil serve` on SQLite
// killed with SIGKILL in the middle of load, three times, restarted on the same file each time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sigkillDrill } from './drills/sigkill.js';

test('SIGKILL mid-load on SQLite, three times: no acknowledged creation, logout or revocation lost; the file intact', async (t) => {
  const figures = await sigkillDrill(t, {
    cycles: 3,
    workers: 12,
    killAfterMs: [400, 1200],
    log: (line) => t.diagnostic(line),
  });
  t.diagnostic(
    `answered ${figures.answered}, cut off by the kills ${figures.cutOff}; restarts ${figures.restartMs.join(', ')} ms; last check: ${JSON.stringify(figures.verified)}`,
  );
  assert.equal(figures.integrity, 'ok');
  // The drill crashed something real: acknowledged work of every kind, and requests cut off.
  assert.ok(figures.counts.created > 100, JSON.stringify(figures.counts));
  assert.ok(figures.counts.logouts > 0 && figures.counts.revocations > 0 && figures.counts.revokeAlls > 0);
  assert.ok(figures.cutOff > 0, 'some requests were in flight at a kill');
});
