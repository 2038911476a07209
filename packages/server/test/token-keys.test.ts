import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { MemoryStore, MemoryTokenStore } from '@vigil/core';
import { errors, exportJWK, generateKeyPair } from 'jose';
import { KeyRing, readKeysFile, rotateSigningKey } from '../src/index.js';
import { createSession, makeApp } from './helpers.js';
import { issueTokens, kids, refresh, verifyWith } from './token-helpers.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const T0 = Date.UTC(2026, 0, 1);

function ring(store: MemoryTokenStore, maxTokenTtlMs = 5 * MINUTE) {
  return new KeyRing({ store, algorithm: 'ES256', maxTokenTtlMs, reloadMs: 0 });
}

describe('signing keys kept in the store', () => {
  test('nodes that start together agree on one first key', async () => {
    const store = new MemoryTokenStore();
    const nodes = [ring(store), ring(store), ring(store)];
    const signing = await Promise.all(nodes.map((node) => node.signingKey(T0)));
    assert.equal(new Set(signing.map((key) => key.kid)).size, 1);
    assert.equal((await store.listSigningKeys()).length, 1);
  });

  test('a rotation publishes the new key at once, signs with it from its activation, and drops the old one after the longest token lifetime', async () => {
    const store = new MemoryTokenStore();
    const node = ring(store, 5 * MINUTE);
    const old = await node.signingKey(T0);
    const added = await rotateSigningKey(store, 'ES256', T0 + MINUTE, 2 * MINUTE);
    assert.equal(added.generation, 2);
    assert.deepEqual(
      (await node.jwks(T0 + MINUTE)).keys.map((k) => k.kid),
      [old.kid, added.kid],
      'published before it signs',
    );
    assert.equal((await node.signingKey(T0 + 3 * MINUTE - 1)).kid, old.kid);
    assert.equal((await node.signingKey(T0 + 3 * MINUTE)).kid, added.kid);
    // The old key's last token, signed just before the activation, lives 5 min; a minute's margin.
    const lastMoment = T0 + 3 * MINUTE + 5 * MINUTE + MINUTE - 1;
    assert.deepEqual(
      (await node.jwks(lastMoment)).keys.map((k) => k.kid),
      [old.kid, added.kid],
    );
    assert.deepEqual(
      (await node.jwks(lastMoment + 1)).keys.map((k) => k.kid),
      [added.kid],
    );
    assert.deepEqual(
      (await store.listSigningKeys()).map((k) => k.generation),
      [2],
      'deleted from the store too',
    );
  });

  test('two rotations racing add two generations, not one twice', async () => {
    const store = new MemoryTokenStore();
    await ring(store).signingKey(T0);
    const [a, b] = await Promise.all([
      rotateSigningKey(store, 'ES256', T0, MINUTE),
      rotateSigningKey(store, 'EdDSA', T0, MINUTE),
    ]);
    assert.deepEqual([a?.generation, b?.generation].sort(), [2, 3]);
  });

  test('through the API: a token signed before a rotation verifies until its key is dropped', async () => {
    const store = new MemoryStore();
    const { app, clock } = await makeApp({
      store,
      config: { policies: { default: { idleTimeout: '1h', absoluteTimeout: '8h', accessTokenTtl: '2m' } } },
      tokens: { keyReloadMs: 0 },
    });
    const { id } = await createSession(app);
    const before = await issueTokens(app, id);
    const oldKid = (await verifyWith(app, before.accessToken, clock.now())).kid;
    const added = await rotateSigningKey(store.tokenStore(), 'ES256', clock.now(), 30 * SECOND);
    assert.deepEqual(await kids(app), [oldKid, added.kid]);

    clock.advance(30 * SECOND);
    const after = (await refresh(app, before.refreshToken)).json();
    assert.equal((await verifyWith(app, after.accessToken, clock.now())).kid, added.kid);
    // The old token still verifies, against the JWKS as it is now.
    clock.advance(MINUTE);
    assert.equal((await verifyWith(app, before.accessToken, clock.now() - MINUTE)).kid, oldKid);
    // The longest token lifetime of any policy (the presets' 5 min) and a minute's margin after
    // the activation, the old key is gone.
    clock.advance(5 * MINUTE);
    assert.deepEqual(await kids(app), [added.kid]);
    await assert.rejects(
      verifyWith(app, before.accessToken, clock.now() - 6 * MINUTE),
      errors.JWKSNoMatchingKey,
    );
  });
});

describe('signing keys given in a file (tokens.keysFile)', () => {
  async function privateJwk(alg: 'ES256' | 'EdDSA', kid: string) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    return { ...(await exportJWK(privateKey)), kid, alg };
  }

  test('the first key signs, every key is published, nothing is kept in the store', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-keys-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'keys.json');
    await writeFile(
      file,
      JSON.stringify({ keys: [await privateJwk('EdDSA', 'new'), await privateJwk('ES256', 'old')] }),
    );
    const store = new MemoryStore();
    const { app, clock } = await makeApp({
      store,
      config: {
        policies: { default: { idleTimeout: '1h', absoluteTimeout: '8h' } },
        tokens: { keysFile: file },
      },
    });
    const { id } = await createSession(app);
    const tokens = await issueTokens(app, id);
    assert.equal((await verifyWith(app, tokens.accessToken, clock.now())).kid, 'new');
    const { keys } = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    assert.deepEqual(
      keys.map((k: { kid: string }) => k.kid),
      ['new', 'old'],
    );
    assert.ok(
      keys.every((k: Record<string, unknown>) => k.d === undefined),
      'no private part',
    );
    assert.deepEqual(await store.tokenStore().listSigningKeys(), []);
  });

  test('refuses a file it cannot use, saying why, before serving', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-keys-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const { d: _d, ...publicOnly } = await privateJwk('ES256', 'p');
    const cases: [string, unknown, RegExp][] = [
      ['not-json', 'nope', /cannot read a JSON key set/],
      ['empty', { keys: [] }, /at least one key/],
      ['no-kid', { keys: [{ ...(await privateJwk('ES256', 'x')), kid: undefined }] }, /needs a kid/],
      [
        'rsa',
        { keys: [{ ...(await privateJwk('ES256', 'x')), alg: 'RS256' }] },
        /alg must be ES256 or EdDSA/,
      ],
      ['public', { keys: [publicOnly] }, /is not a private key/],
    ];
    for (const [name, content, message] of cases) {
      const file = join(dir, `${name}.json`);
      await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
      await assert.rejects(readKeysFile(file), message, name);
    }
    await assert.rejects(
      makeApp({ config: { tokens: { keysFile: join(dir, 'missing.json') } } }),
      /tokens.keysFile .*missing.json/,
    );
  });
});
