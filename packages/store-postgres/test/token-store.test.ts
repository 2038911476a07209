import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  newRefreshToken,
  newRotationSalt,
  nextRefreshToken,
  refreshFamilyId,
  refreshTokenHash,
} from '@vigil/core';
import { signingKey } from '@vigil/core/conformance';
import { PostgresStore } from '../src/index.js';
import { type PostgresServer, startPostgres, uniqueSchema } from './postgres-server.js';

const T0 = Date.UTC(2026, 0, 1);

describe('PostgresTokenStore across nodes', () => {
  let server: PostgresServer | undefined;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  /** Nodes on one schema, each with its own pool, as separate Vigil processes would be. */
  function nodes(schema: string, n: number): PostgresStore[] {
    return Array.from({ length: n }, () =>
      PostgresStore.fromUrl(server?.url ?? '', { schema, maxConnections: 2, queryTimeoutMs: 10_000 }),
    );
  }

  it('creates its tables once when nodes start together, and agrees on one first signing key', async (t) => {
    const stores = nodes(uniqueSchema(), 4);
    t.after(() => Promise.all(stores.map((s) => s.close())));
    const candidates = stores.map(() => signingKey(1));
    const added = await Promise.all(
      stores.map((s, i) => s.tokenStore().addSigningKey(candidates[i] ?? signingKey(1))),
    );
    assert.equal(added.filter(Boolean).length, 1);
    const seen = await Promise.all(stores.map((s) => s.tokenStore().listSigningKeys()));
    for (const keys of seen) assert.deepEqual(keys, [candidates[added.indexOf(true)]]);
  });

  it('of refreshes racing on different nodes with one token, exactly one rotates', async (t) => {
    const stores = nodes(uniqueSchema(), 3);
    t.after(() => Promise.all(stores.map((s) => s.close())));
    const { token, parts } = newRefreshToken('n'.repeat(43));
    const familyId = refreshFamilyId(parts.family);
    await stores[0]?.tokenStore().issueFamily({
      sessionId: parts.sessionId,
      familyId,
      tokenHash: refreshTokenHash(token),
      issuedAt: T0,
      expiresAt: T0 + 3_600_000,
    });
    const requests = Array.from({ length: 9 }, () => {
      const nextSalt = newRotationSalt();
      return {
        sessionId: parts.sessionId,
        familyId,
        presentedHash: refreshTokenHash(token),
        nextHash: refreshTokenHash(nextRefreshToken(parts, nextSalt)),
        nextSalt,
        graceMs: 10_000,
        now: T0 + 1000,
      };
    });
    const answers = await Promise.all(
      requests.map((request, i) => stores[i % stores.length]?.tokenStore().rotate(request)),
    );
    const kinds = answers.map((a) => a?.kind);
    assert.equal(kinds.filter((k) => k === 'rotated').length, 1, kinds.join(','));
    assert.equal(kinds.filter((k) => k === 'grace').length, 8, kinds.join(','));
  });

  it('purges expired families in batches', async (t) => {
    const [store] = nodes(uniqueSchema(), 1);
    if (store === undefined) throw new Error('no store');
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
    assert.equal(await tokens.purgeExpiredFamilies(3000, 10), 1);
    assert.equal(await tokens.purgeExpiredFamilies(3000, 10), 0);
    assert.equal(await tokens.purgeExpiredFamilies(10_000, 10), 2);
  });
});
