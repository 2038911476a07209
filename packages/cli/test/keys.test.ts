import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '@vigil/store-sqlite';
import { call, runVigil, startVigil, tempDir, writeJson } from './helpers.js';

test('keys rotate: adds the next signing key to the store a running server uses, published before it signs', async (t) => {
  const dir = tempDir(t);
  const spec = `sqlite:${join(dir, 'vigil.db')}`;
  const vigil = await startVigil(t, ['--store', spec]);
  t.after(() => vigil.stop());
  // The first JWKS read makes the first key.
  const before = await call(vigil.url, 'GET', '/.well-known/jwks.json');
  assert.equal(before.status, 200);
  assert.equal(before.body.keys.length, 1);

  const startedAt = Date.now();
  const json = await runVigil(['keys', 'rotate', '--store', spec, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const added = JSON.parse(json.stdout);
  assert.equal(added.generation, 2);
  assert.equal(added.alg, 'ES256');
  assert.notEqual(added.kid, before.body.keys[0].kid);
  const activatesIn = Date.parse(added.activatesAt) - startedAt;
  assert.ok(
    activatesIn >= 110_000 && activatesIn <= 130_000,
    `signs from ${added.activatesAt}: 2 minutes on`,
  );

  const human = await runVigil(['keys', 'rotate', '--store', spec, '--activate-in', '1h']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(
    human.stdout,
    /^Added signing key 3 \(ES256, kid \S+\): published now, signing from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.$/m,
  );
  assert.match(human.stdout, /stays published until the last access token it signed has expired/);

  // What every node reads back within its reload interval: the keys, in the store the servers share.
  const store = await SqliteStore.open({ path: join(dir, 'vigil.db') });
  t.after(() => store.close());
  const kept = await store.tokenStore().listSigningKeys();
  assert.deepEqual(
    kept.map((key) => key.generation),
    [1, 2, 3],
  );
  assert.equal(kept[1]?.kid, added.kid);
  assert.equal(kept[1]?.activatesAt, Date.parse(added.activatesAt));
  // Until then the old key signs: the server still publishes it and can sign.
  const published = await call(vigil.url, 'GET', '/.well-known/jwks.json');
  assert.ok(published.body.keys.some((key: { kid: string }) => key.kid === before.body.keys[0].kid));
});

test('keys rotate: the algorithm comes from the config, and what cannot be rotated is said plainly', async (t) => {
  const dir = tempDir(t);
  const spec = `sqlite:${join(dir, 'vigil.db')}`;
  const eddsa = writeJson(dir, 'eddsa.json', { tokens: { algorithm: 'EdDSA' } });
  const fromFile = writeJson(dir, 'file.json', { tokens: { keysFile: 'keys.json' } });
  const [edKey, noStore, memory, tooSoon, notADuration, fileKeys, noAction, unknown] = await Promise.all([
    runVigil(['keys', 'rotate', '--store', spec, '--config', eddsa, '--json']),
    runVigil(['keys', 'rotate']),
    runVigil(['keys', 'rotate', '--store', 'memory']),
    runVigil(['keys', 'rotate', '--store', spec, '--activate-in', '10s']),
    runVigil(['keys', 'rotate', '--store', spec, '--activate-in', 'soon']),
    runVigil(['keys', 'rotate', '--store', spec, '--config', fromFile]),
    runVigil(['keys']),
    runVigil(['keys', 'revoke', '--store', spec]),
  ]);
  assert.equal(edKey.code, 0, edKey.stderr);
  assert.equal(JSON.parse(edKey.stdout).alg, 'EdDSA');
  for (const [result, message] of [
    [noStore, /--store is required/],
    [memory, /the memory store lives inside `vigil serve`/],
    [tooSoon, /--activate-in must be at least 30s/],
    [notADuration, /--activate-in: must be a duration/],
    [noAction, /which one: rotate\?/],
    [unknown, /unknown keys command "revoke"/],
  ] as const) {
    assert.equal(result.code, 2, `${message}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  assert.equal(fileKeys.code, 1);
  assert.match(
    fileKeys.stderr,
    /given in tokens\.keysFile .* rotate by adding the new key first in that file/,
  );
  for (const result of [noStore, memory, tooSoon, notADuration, fileKeys, noAction, unknown]) {
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
  }
});
