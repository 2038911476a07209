import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from './config.js';

describe('resolveConfig: audit', () => {
  it('keeps audit entries 30 days by default; the retention can be set', () => {
    assert.deepEqual(resolveConfig({}).audit, { retentionMs: 30 * 86_400_000 });
    assert.deepEqual(resolveConfig({ audit: {} }).audit, { retentionMs: 30 * 86_400_000 });
    assert.deepEqual(resolveConfig({ audit: { retention: '90d' } }).audit, { retentionMs: 90 * 86_400_000 });
    assert.deepEqual(resolveConfig({ audit: { retention: 60_000 } }).audit, { retentionMs: 60_000 });
  });

  it('refuses a bad audit section with the field path', () => {
    const fields = (input: unknown) => {
      try {
        resolveConfig(input);
      } catch (error) {
        return (error as { details: { field: string; rule: string }[] }).details.map(
          (d) => `${d.field}:${d.rule}`,
        );
      }
      return [];
    };
    assert.deepEqual(fields({ audit: { retention: 'a month' } }), ['audit.retention:duration']);
    assert.deepEqual(fields({ audit: { retention: '0s' } }), ['audit.retention:positive']);
    assert.deepEqual(fields({ audit: { retension: '1d' } }), ['audit.retension:unknown_field']);
    assert.deepEqual(fields({ audit: '30d' }), ['audit:type']);
  });
});
