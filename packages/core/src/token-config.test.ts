import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from './config.js';
import { ValidationError } from './errors.js';

describe('config: tokens', () => {
  it('defaults to issuer vigil, no audience, ES256 keys kept in the store', () => {
    assert.deepEqual(resolveConfig({}).tokens, {
      issuer: 'vigil',
      audience: null,
      algorithm: 'ES256',
      keysFile: null,
    });
  });

  it('takes an issuer, an audience, EdDSA and a key file', () => {
    const { tokens } = resolveConfig({
      tokens: {
        issuer: 'https://vigil.example.com',
        audience: 'api',
        algorithm: 'EdDSA',
        keysFile: 'keys.json',
      },
    });
    assert.deepEqual(tokens, {
      issuer: 'https://vigil.example.com',
      audience: 'api',
      algorithm: 'EdDSA',
      keysFile: 'keys.json',
    });
  });

  it('names every problem with its field and rule', () => {
    assert.throws(
      () => resolveConfig({ tokens: { issuer: 'has space', algorithm: 'RS256', keysFile: 3, extra: true } }),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.deepEqual(
          error.details.map(({ field, rule }) => [field, rule]),
          [
            ['tokens.extra', 'unknown_field'],
            ['tokens.algorithm', 'enum'],
            ['tokens.keysFile', 'type'],
            ['tokens.issuer', 'claim_text'],
          ],
        );
        return true;
      },
    );
    assert.throws(() => resolveConfig({ tokens: [] }), ValidationError);
  });
});
