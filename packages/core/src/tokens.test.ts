import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { looksLikeSessionToken, newSessionToken, secretsEqual, sessionIdFor } from './tokens.js';

describe('tokens', () => {
  it('are 256 random bits, recognisable, and never equal to their id', () => {
    const tokens = new Set(Array.from({ length: 1000 }, newSessionToken));
    assert.equal(tokens.size, 1000);
    for (const token of tokens) {
      assert.ok(looksLikeSessionToken(token));
      assert.equal(Buffer.from(token.slice(4), 'base64url').length, 32);
      assert.notEqual(sessionIdFor(token), token);
      assert.ok(!sessionIdFor(token).includes(token.slice(4, 20)));
    }
    assert.equal(looksLikeSessionToken('vgl_short'), false);
  });

  it('hash to a stable id', () => {
    const token = newSessionToken();
    assert.equal(sessionIdFor(token), sessionIdFor(token));
    assert.notEqual(sessionIdFor(token), sessionIdFor(newSessionToken()));
  });

  it('compares secrets of any length', () => {
    assert.equal(secretsEqual('key', 'key'), true);
    assert.equal(secretsEqual('key', 'key2'), false);
    assert.equal(secretsEqual('', 'x'), false);
  });
});
