import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { API_KEY, call, startVigil, tempDir, writeJson } from './helpers.js';

const driver = createRequire(import.meta.url).resolve('better-sqlite3');

// Another process (the sqlite3 shell, a backup) takes the write lock, says so, holds it for
// `argv[3]` ms without yielding, and lets it go.
const HOLDER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.exec('BEGIN EXCLUSIVE');
process.stdout.write('locked\\n');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[3]));
db.exec('COMMIT');
db.close();
`;

function holdLock(path: string, ms: number): Promise<{ released: Promise<void> }> {
  const child = spawn(process.execPath, ['-e', HOLDER, driver, path, String(ms)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const released = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve({ released });
    });
  });
}

test('a creation refused with 503 while another process holds the SQLite lock is not committed later', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'vigil.db');
  // The server gives up on a store call after 400 ms; the store must give up sooner, or a creation
  // still waiting for the lock would commit after its client was told it failed.
  const config = writeJson(dir, 'vigil.json', { storeTimeout: '400ms' });
  const vigil = await startVigil(t, ['--store', `sqlite:${file}`, '--config', config]);
  t.after(() => vigil.stop());

  // Released 700 ms on: after the server's 503, within the 1 s a store call waited by default.
  const lock = await holdLock(file, 700);
  const refused = await call(vigil.url, 'POST', '/v1/sessions', { auth: API_KEY, body: { subject: 'late' } });
  assert.equal(refused.status, 503, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'store_unavailable');
  await lock.released;
  await new Promise((resolve) => setTimeout(resolve, 500));

  const listed = await call(vigil.url, 'GET', '/v1/sessions?subject=late', { auth: API_KEY });
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body.sessions, [], 'nobody holds a token for a session created after its 503');
  const created = await call(vigil.url, 'POST', '/v1/sessions', { auth: API_KEY, body: { subject: 'late' } });
  assert.equal(created.status, 201, 'served again once the lock is let go');
});
