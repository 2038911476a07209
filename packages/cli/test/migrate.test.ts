import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runVigil, tempDir } from './helpers.js';

test('migrate: creates and migrates a SQLite file (twice is fine); memory and no --store are refused', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'nested', 'vigil.db');
  const first = await runVigil(['migrate', '--store', `sqlite:${path}`]);
  assert.equal(first.code, 0, first.stderr);
  assert.ok(existsSync(path));
  const again = await runVigil(['migrate', '--store', `sqlite:${path}`]);
  assert.equal(again.code, 0, again.stderr);
  const [memory, missing, unknown] = await Promise.all([
    runVigil(['migrate', '--store', 'memory']),
    runVigil(['migrate']),
    runVigil(['migrate', '--store', 'mysql://localhost/vigil']),
  ]);
  assert.equal(memory.code, 2);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--store is required/);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown store/);
});
