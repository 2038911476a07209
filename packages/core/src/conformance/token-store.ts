import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  newRefreshToken,
  newRotationSalt,
  nextRefreshToken,
  parseRefreshToken,
  type RefreshTokenParts,
  type RotateRequest,
  refreshFamilyId,
  refreshTokenHash,
} from '../refresh-tokens.js';
import type { StoredSigningKey } from '../signing-keys.js';
import type { TokenStore } from '../token-store.js';
import { newSessionToken, sessionIdFor } from '../tokens.js';
import { T0 } from './fixtures.js';

export interface TokenStoreUnderTest {
  tokens: TokenStore;
  /** Stops what the factory started; called once per test. */
  cleanup(): Promise<void>;
}

/** Builds a fresh, empty token store for one test. */
export type TokenStoreFactory = () => Promise<TokenStoreUnderTest>;

const SECOND = 1000;
const GRACE = 10 * SECOND;
const EXPIRES = T0 + 3_600_000;

/** A family as the server starts one: its first token, and what the store is given. */
async function issue(tokens: TokenStore, sessionId = sessionIdFor(newSessionToken()), expiresAt = EXPIRES) {
  const { token, parts } = newRefreshToken(sessionId);
  await tokens.issueFamily({
    sessionId,
    familyId: refreshFamilyId(parts.family),
    tokenHash: refreshTokenHash(token),
    issuedAt: T0,
    expiresAt,
  });
  return { token, parts };
}

/** The request a refresh with `token` makes at `now`, and the token it would get if it rotates. */
function rotation(token: string, now: number, graceMs = GRACE): { request: RotateRequest; next: string } {
  const parts = parseRefreshToken(token) as RefreshTokenParts;
  const nextSalt = newRotationSalt();
  const next = nextRefreshToken(parts, nextSalt);
  return {
    next,
    request: {
      sessionId: parts.sessionId,
      familyId: refreshFamilyId(parts.family),
      presentedHash: refreshTokenHash(token),
      nextHash: refreshTokenHash(next),
      nextSalt,
      graceMs,
      now,
    },
  };
}

export function signingKey(generation: number, at = T0): StoredSigningKey {
  return {
    generation,
    kid: `kid-${generation}-${Math.random().toString(36).slice(2)}`,
    alg: 'ES256',
    privateJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', d: `d${generation}`, x: 'x', y: 'y' }),
    publicJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }),
    createdAt: at,
    activatesAt: at + generation,
  };
}

/**
 * The token-mode part of a store (refresh-token families and signing keys) as tests, run by every
 * store against its real backend, apart from `describeStoreConformance`. Times are explicit.
 */
export function describeTokenStoreConformance(name: string, factory: TokenStoreFactory): void {
  const withTokens = (title: string, body: (tokens: TokenStore) => Promise<void>) =>
    it(title, async () => {
      const { tokens, cleanup } = await factory();
      try {
        await body(tokens);
      } finally {
        await cleanup();
      }
    });

  describe(`Token store conformance: ${name}`, () => {
    withTokens('rotates a family token after token, each current one once', async (tokens) => {
      let { token } = await issue(tokens);
      for (let i = 1; i <= 4; i++) {
        const { request, next } = rotation(token, T0 + i * 60 * SECOND);
        assert.deepEqual(await tokens.rotate(request), { kind: 'rotated' }, `rotation ${i}`);
        token = next;
      }
    });

    withTokens(
      'answers the previous token within the grace window with the current one again',
      async (tokens) => {
        const { token } = await issue(tokens);
        const first = rotation(token, T0 + SECOND);
        assert.deepEqual(await tokens.rotate(first.request), { kind: 'rotated' });
        const retry = rotation(token, T0 + SECOND + GRACE);
        const answer = await tokens.rotate(retry.request);
        assert.equal(answer.kind, 'grace');
        assert.ok(answer.kind === 'grace');
        assert.equal(answer.currentHash, refreshTokenHash(first.next));
        // What the caller derives from what it presented is exactly the current token.
        const again = nextRefreshToken(parseRefreshToken(token) as RefreshTokenParts, answer.salt);
        assert.equal(again, first.next);
        // Nothing changed: the current token still rotates.
        assert.deepEqual(await tokens.rotate(rotation(first.next, T0 + 2 * SECOND).request), {
          kind: 'rotated',
        });
      },
    );

    withTokens(
      'of racing rotations with one token exactly one rotates, the others get grace',
      async (tokens) => {
        const { token } = await issue(tokens);
        const racers = Array.from({ length: 8 }, () => rotation(token, T0 + SECOND));
        const answers = await Promise.all(racers.map(({ request }) => tokens.rotate(request)));
        const winners = answers.flatMap((answer, i) => (answer.kind === 'rotated' ? [racers[i]] : []));
        assert.equal(winners.length, 1, JSON.stringify(answers.map((a) => a.kind)));
        const current = winners[0]?.next as string;
        for (const answer of answers) {
          if (answer.kind === 'rotated') continue;
          assert.equal(answer.kind, 'grace');
          assert.equal(answer.kind === 'grace' && answer.currentHash, refreshTokenHash(current));
        }
        // Everybody now holds the winner's token, and it works.
        assert.deepEqual(await tokens.rotate(rotation(current, T0 + 2 * SECOND).request), {
          kind: 'rotated',
        });
      },
    );

    withTokens(
      'the previous token after the grace window is a reuse that revokes the family',
      async (tokens) => {
        const { token } = await issue(tokens);
        const first = rotation(token, T0);
        await tokens.rotate(first.request);
        assert.equal(
          (await tokens.rotate(rotation(token, T0 + GRACE).request)).kind,
          'grace',
          'edge: still grace',
        );
        assert.deepEqual(await tokens.rotate(rotation(token, T0 + GRACE + 1).request), {
          kind: 'reuse',
          revokedNow: true,
        });
        // From now on every token of the family is refused, the current one included.
        assert.deepEqual(await tokens.rotate(rotation(first.next, T0 + GRACE + 2).request), {
          kind: 'reuse',
          revokedNow: false,
        });
        assert.deepEqual(await tokens.rotate(rotation(token, T0 + GRACE + 3).request), {
          kind: 'reuse',
          revokedNow: false,
        });
      },
    );

    withTokens(
      'a token older than the previous one is a reuse, even within the grace window',
      async (tokens) => {
        const { token: oldest } = await issue(tokens);
        const first = rotation(oldest, T0);
        await tokens.rotate(first.request);
        const second = rotation(first.next, T0 + SECOND);
        assert.deepEqual(await tokens.rotate(second.request), { kind: 'rotated' });
        assert.deepEqual(await tokens.rotate(rotation(oldest, T0 + 2 * SECOND).request), {
          kind: 'reuse',
          revokedNow: true,
        });
        assert.equal((await tokens.rotate(rotation(second.next, T0 + 3 * SECOND).request)).kind, 'reuse');
      },
    );

    withTokens(
      'a made-up secret in a real family is a reuse; a made-up family is unknown',
      async (tokens) => {
        const { token, parts } = await issue(tokens);
        const forged = rotation(`vrt_${parts.sessionId}.${parts.family}.${'A'.repeat(43)}`, T0);
        assert.deepEqual(await tokens.rotate(forged.request), { kind: 'reuse', revokedNow: true });
        assert.equal((await tokens.rotate(rotation(token, T0 + 1).request)).kind, 'reuse');

        // Knowing a session id (it is in every access token) is not enough to revoke anything.
        const other = await issue(tokens);
        const guess = rotation(`vrt_${other.parts.sessionId}.${'B'.repeat(22)}.${'C'.repeat(43)}`, T0);
        assert.deepEqual(await tokens.rotate(guess.request), { kind: 'unknown' });
        assert.deepEqual(await tokens.rotate(rotation(other.token, T0 + 1).request), { kind: 'rotated' });
      },
    );

    withTokens('answers unknown for a family never issued, or issued for another session', async (tokens) => {
      const stranger = newRefreshToken(sessionIdFor(newSessionToken())).token;
      assert.deepEqual(await tokens.rotate(rotation(stranger, T0).request), { kind: 'unknown' });
      const { parts } = await issue(tokens);
      const elsewhere = `vrt_${sessionIdFor(newSessionToken())}.${parts.family}.${parts.secret}`;
      assert.deepEqual(await tokens.rotate(rotation(elsewhere, T0).request), { kind: 'unknown' });
    });

    withTokens('keeps the families of one session apart', async (tokens) => {
      const sessionId = sessionIdFor(newSessionToken());
      const a = await issue(tokens, sessionId);
      const b = await issue(tokens, sessionId);
      await tokens.rotate(rotation(a.token, T0).request);
      assert.equal((await tokens.rotate(rotation(a.token, T0 + GRACE + 1).request)).kind, 'reuse');
      assert.deepEqual(await tokens.rotate(rotation(b.token, T0 + GRACE + 2).request), { kind: 'rotated' });
    });

    withTokens(
      'a family is unknown from its expiry on, and purging removes only expired ones',
      async (tokens) => {
        const sessionId = sessionIdFor(newSessionToken());
        const short = await issue(tokens, sessionId, T0 + 60 * SECOND);
        const long = await issue(tokens, sessionId, T0 + 120 * SECOND);
        const beforeExpiry = rotation(short.token, T0 + 60 * SECOND - 1);
        assert.deepEqual(await tokens.rotate(beforeExpiry.request), { kind: 'rotated' });
        assert.deepEqual(await tokens.rotate(rotation(beforeExpiry.next, T0 + 60 * SECOND).request), {
          kind: 'unknown',
        });
        const purged = await tokens.purgeExpiredFamilies(T0 + 90 * SECOND, 100);
        assert.ok(purged === 0 || purged === 1, `purged ${purged}`);
        assert.deepEqual(await tokens.rotate(rotation(long.token, T0 + 90 * SECOND).request), {
          kind: 'rotated',
        });
        assert.deepEqual(await tokens.rotate(rotation(beforeExpiry.next, T0 + 90 * SECOND).request), {
          kind: 'unknown',
        });
      },
    );

    withTokens('keeps signing keys by generation, oldest first, each field as given', async (tokens) => {
      assert.deepEqual(await tokens.listSigningKeys(), []);
      const second = signingKey(2);
      const first = signingKey(1);
      assert.equal(await tokens.addSigningKey(second), true);
      assert.equal(await tokens.addSigningKey(first), true);
      assert.deepEqual(await tokens.listSigningKeys(), [first, second]);
    });

    withTokens('adds a generation once, even when nodes race to add it', async (tokens) => {
      const candidates = Array.from({ length: 6 }, () => signingKey(1));
      const added = await Promise.all(candidates.map((key) => tokens.addSigningKey(key)));
      assert.equal(added.filter(Boolean).length, 1);
      const kept = await tokens.listSigningKeys();
      assert.deepEqual(kept, [candidates[added.indexOf(true)]]);
      assert.equal(await tokens.addSigningKey(signingKey(1)), false);
      assert.deepEqual(await tokens.listSigningKeys(), kept);
    });

    withTokens('deletes the keys of a generation and older', async (tokens) => {
      const keys = [1, 2, 3].map((g) => signingKey(g));
      for (const key of keys) await tokens.addSigningKey(key);
      assert.equal(await tokens.deleteSigningKeys(2), 2);
      assert.deepEqual(await tokens.listSigningKeys(), [keys[2]]);
      assert.equal(await tokens.deleteSigningKeys(2), 0);
    });
  });
}
