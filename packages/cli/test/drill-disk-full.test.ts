// Fault drill, short version (the long one: `npm run oracle -- --drills`): the disk under SQLite
// fills up under load (a 4 MB tmpfs and a filler file), twice; the second time the server is killed
// while the disk is full.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diskFullDrill } from './drills/disk-full.js';

test('SQLite disk full under load: clean 503s (never 401, never a crash), service back without a restart, nothing acknowledged lost, the file intact', async (t) => {
  const figures = await diskFullDrill(t, {
    rounds: 2,
    fullForMs: 1500,
    workers: 8,
    log: (line) => t.diagnostic(line),
  });
  t.diagnostic(
    `readyz while full: ${JSON.stringify(figures.readyz)}; ledger ${JSON.stringify(figures.ledger)}`,
  );
  // The disk really was full: writes were refused, and cleanly.
  assert.ok((figures.whileFull['503 store_unavailable'] ?? 0) > 0, JSON.stringify(figures.whileFull));
  // Reads go on while full, but a node that refuses writes is not ready.
  assert.ok((figures.readyz[503] ?? 0) > 0, `readyz while full: ${JSON.stringify(figures.readyz)}`);
  assert.equal(figures.integrity, 'ok');
});
