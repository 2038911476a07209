import assert from 'node:assert/strict';
import { it } from 'node:test';
import { KeySpace } from '../src/keys.js';

/** The hash tag Redis Cluster places a key by: the text between the first `{` and the next `}`. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return key.slice(open + 1, close);
}

it("keys a refresh-token family with its session's hash tag, so both share a slot", () => {
  const keys = new KeySpace('vigil:', 16);
  for (const id of ['x2D9AbcDEF_-0123456789abcdefghijklmnopqrstu', 'a{b}c', '%', '']) {
    const family = keys.refreshFamily(id, 'F'.repeat(43));
    assert.equal(hashTag(family), hashTag(keys.session(id)), id);
    assert.notEqual(family, keys.session(id));
  }
  assert.doesNotMatch(keys.signingKeys, /[{}]/);
});
