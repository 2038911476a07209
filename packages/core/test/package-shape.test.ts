import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

describe('@vigil/core package', () => {
  it('has no runtime dependencies', () => {
    assert.equal(manifest.dependencies, undefined);
    assert.equal(manifest.peerDependencies, undefined);
  });

  it('exports exactly the main entry and the conformance suite', () => {
    assert.deepEqual(Object.keys(manifest.exports), ['.', './conformance']);
    assert.equal(manifest.sideEffects, false);
  });
});
