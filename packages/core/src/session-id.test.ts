import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { newSessionToken, sessionIdFor } from './tokens.js';

describe('sessionIdFor', () => {
  it('is the base64url SHA-256 of the token, as ids already stored were made', () => {
    // A fixed vector: a change of hash or encoding would orphan every stored session.
    assert.equal(
      sessionIdFor(`vgl_${'A'.repeat(43)}`),
      createHash('sha256')
        .update(`vgl_${'A'.repeat(43)}`)
        .digest('base64url'),
    );
    assert.equal(sessionIdFor('vgl_x'), 'mYOnJbXJfV1DU6u74AEuIpgnLxQYmLuvIluvVbg2kLw');
    for (let i = 0; i < 200; i++) {
      const token = newSessionToken();
      assert.equal(sessionIdFor(token), createHash('sha256').update(token).digest('base64url'));
    }
  });
});
