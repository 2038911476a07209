import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from './config.js';

describe('resolveConfig', () => {
  it('has defaults for everything', () => {
    const config = resolveConfig({});
    assert.equal(config.storeTimeoutMs, 2000);
    assert.equal(config.endedRetentionMs, 86_400_000);
    assert.deepEqual(config.heartbeatRateLimit, { burst: 10, perSecond: 1 });
    assert.equal(config.policies.get('default')?.idleTimeoutMs, 900_000);
  });

  it('reports every problem with its path', () => {
    assert.throws(
      () =>
        resolveConfig({
          storeTimout: '2s',
          storeTimeout: '0s',
          endedRetention: 'a day',
          heartbeatRateLimit: { burst: 0, perSecond: -1 },
          policies: { default: { idleTimeout: '2h', absoluteTimeout: '1h' } },
        }),
      (error: { details: { field: string; rule: string }[] }) => {
        assert.deepEqual(
          error.details.map((d) => d.field),
          [
            'storeTimout',
            'policies.default.idleTimeout',
            'endedRetention',
            'storeTimeout',
            'heartbeatRateLimit.burst',
            'heartbeatRateLimit.perSecond',
          ],
        );
        return true;
      },
    );
    assert.throws(() => resolveConfig([]), { code: 'validation_failed' });
  });
});
