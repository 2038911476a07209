import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { newRefreshToken, refreshFamilyId, refreshTokenHash } from '@vigil/core';
import { describeTokenStoreConformance, signingKey } from '@vigil/core/conformance';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/index.js';
import { MIGRATIONS } from '../src/sql.js';

describeTokenStoreConformance('sqlite (WAL file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-sqlite-tokens-'));
  const store = await SqliteStore.open({ path: join(dir, 'vigil.db') });
  return {
    tokens: store.tokenStore(),
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

it('keeps families and keys across a restart, as hashes only, beside an untouched session schema', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-sqlite-tokens-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'vigil.db');
  const { token, parts } = newRefreshToken('s'.repeat(43));
  const first = await SqliteStore.open({ path });
  await first.tokenStore().issueFamily({
    sessionId: parts.sessionId,
    familyId: refreshFamilyId(parts.family),
    tokenHash: refreshTokenHash(token),
    issuedAt: Date.UTC(2026, 0, 1),
    expiresAt: Date.UTC(2030, 0, 1),
  });
  const key = signingKey(1);
  await first.tokenStore().addSigningKey(key);
  await first.close();

  const again = await SqliteStore.open({ path });
  t.after(() => again.close());
  assert.deepEqual(await again.tokenStore().listSigningKeys(), [key]);
  assert.equal(again.settings.schemaVersion, MIGRATIONS.length, 'the session schema is left as it was');

  const raw = new Database(path, { readonly: true });
  t.after(() => raw.close());
  const text = JSON.stringify(raw.prepare('SELECT * FROM refresh_families').all());
  assert.ok(text.includes(refreshTokenHash(token)));
  assert.ok(!text.includes(parts.secret) && !text.includes(parts.family), 'no secret part is stored');
  assert.deepEqual(raw.prepare('SELECT max(version) AS v FROM token_schema').get(), { v: 1 });
});

it('purges expired families through their index, in batches', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-sqlite-tokens-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await SqliteStore.open({ path: join(dir, 'vigil.db') });
  t.after(() => store.close());
  const tokens = store.tokenStore();
  for (let i = 0; i < 5; i++) {
    const { token, parts } = newRefreshToken(`${i}`.repeat(43));
    await tokens.issueFamily({
      sessionId: parts.sessionId,
      familyId: refreshFamilyId(parts.family),
      tokenHash: refreshTokenHash(token),
      issuedAt: 0,
      expiresAt: 1000 * (i + 1),
    });
  }
  assert.equal(await tokens.purgeExpiredFamilies(3000, 2), 2);
  assert.equal(await tokens.purgeExpiredFamilies(3000, 2), 1);
  assert.equal(await tokens.purgeExpiredFamilies(3000, 2), 0);
  const raw = new Database(join(dir, 'vigil.db'), { readonly: true });
  t.after(() => raw.close());
  assert.equal((raw.prepare('SELECT count(*) AS n FROM refresh_families').get() as { n: number }).n, 2);
  const plan = raw
    .prepare(
      `EXPLAIN QUERY PLAN SELECT session_id, family_id FROM refresh_families WHERE expires_at <= 1 LIMIT 1`,
    )
    .all() as { detail: string }[];
  assert.match(plan.map((p) => p.detail).join(' '), /refresh_families_expires/);
});
