import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorDetail } from './errors.js';
import { resolvePolicies, resolvePolicy } from './policy.js';
import { PRESETS } from './presets.js';

function problems(run: () => unknown): Pick<ErrorDetail, 'field' | 'rule'>[] {
  try {
    run();
  } catch (error) {
    const details = (error as { code?: string; details?: ErrorDetail[] }).details;
    assert.equal((error as { code?: string }).code, 'validation_failed');
    return (details ?? []).map(({ field, rule }) => ({ field, rule }));
  }
  assert.fail('expected a validation error');
}

describe('resolvePolicy', () => {
  it('fills defaults that scale with the idle timeout', () => {
    assert.deepEqual(resolvePolicy('default', { idleTimeout: '15m', absoluteTimeout: '8h' }), {
      name: 'default',
      idleTimeoutMs: 900_000,
      absoluteTimeoutMs: 28_800_000,
      warnBeforeMs: 120_000,
      heartbeatIntervalMs: 300_000,
      maxSessions: null,
      touchGranularityMs: 1000,
      accessTokenTtlMs: 300_000,
      refreshGraceMs: 10_000,
    });
    const short = resolvePolicy('test', { idleTimeout: '2s', absoluteTimeout: '10s' });
    assert.equal(short.warnBeforeMs, 500);
    assert.equal(short.heartbeatIntervalMs, 666);
    assert.equal(short.touchGranularityMs, 20);
  });

  it('takes token-mode settings: an access-token lifetime of at least 60 s and a shorter grace', () => {
    const policy = resolvePolicy('t', {
      idleTimeout: '15m',
      absoluteTimeout: '8h',
      accessTokenTtl: '2m',
      refreshGrace: '0s',
    });
    assert.equal(policy.accessTokenTtlMs, 120_000);
    assert.equal(policy.refreshGraceMs, 0);
    assert.deepEqual(
      problems(() =>
        resolvePolicy('t', {
          idleTimeout: '15m',
          absoluteTimeout: '8h',
          accessTokenTtl: '59s',
          refreshGrace: '1m',
        }),
      ),
      [
        { field: 'policies.t.accessTokenTtl', rule: 'min_60s' },
        { field: 'policies.t.refreshGrace', rule: 'lt_accessTokenTtl' },
      ],
    );
  });

  it('names each field and the rule it breaks, all at once', () => {
    assert.deepEqual(
      problems(() =>
        resolvePolicy('admin', {
          idleTimeout: '1h',
          absoluteTimeout: '30m',
          warnBefore: '2h',
          heartbeatInterval: '1h',
          maxSessions: 0,
        }),
      ),
      [
        { field: 'policies.admin.maxSessions', rule: 'positive_integer' },
        { field: 'policies.admin.idleTimeout', rule: 'lte_absoluteTimeout' },
        { field: 'policies.admin.warnBefore', rule: 'lt_idleTimeout' },
        { field: 'policies.admin.heartbeatInterval', rule: 'lt_idleTimeout' },
      ],
    );
  });

  it('refuses unknown fields, missing timeouts, bad durations and a coarse granularity', () => {
    assert.deepEqual(
      problems(() => resolvePolicy('p', { idleTimout: '15m' })),
      [
        { field: 'policies.p.idleTimout', rule: 'unknown_field' },
        { field: 'policies.p.idleTimeout', rule: 'required' },
        { field: 'policies.p.absoluteTimeout', rule: 'required' },
      ],
    );
    assert.deepEqual(
      problems(() => resolvePolicy('p', { idleTimeout: '15 min', absoluteTimeout: '8h' })),
      [{ field: 'policies.p.idleTimeout', rule: 'duration' }],
    );
    assert.deepEqual(
      problems(() =>
        resolvePolicy('p', { idleTimeout: '10s', absoluteTimeout: '1m', touchGranularity: '2s' }),
      ),
      [{ field: 'policies.p.touchGranularity', rule: 'lte_tenth_of_idleTimeout' }],
    );
    assert.deepEqual(
      problems(() => resolvePolicy('p', 'fifteen minutes')),
      [{ field: 'policies.p', rule: 'type' }],
    );
  });

  it('builds on a preset, and refuses overrides that leave its bounds', () => {
    const tighter = resolvePolicy('staff', { extends: 'nist-aal3', idleTimeout: '10m' });
    assert.equal(tighter.idleTimeoutMs, 600_000);
    assert.equal(tighter.absoluteTimeoutMs, 12 * 3_600_000);
    assert.deepEqual(
      problems(() => resolvePolicy('staff', { extends: 'nist-aal3', idleTimeout: '30m' })),
      [{ field: 'policies.staff.idleTimeout', rule: 'preset_max' }],
    );
    assert.deepEqual(
      problems(() => resolvePolicy('bank', { extends: 'owasp-high-value', idleTimeout: '1m' })),
      [{ field: 'policies.bank.idleTimeout', rule: 'preset_min' }],
    );
    assert.deepEqual(
      problems(() => resolvePolicy('x', { extends: 'nist-aal9' })),
      [
        { field: 'policies.x.extends', rule: 'unknown_preset' },
        { field: 'policies.x.idleTimeout', rule: 'required' },
        { field: 'policies.x.absoluteTimeout', rule: 'required' },
      ],
    );
  });

  it('ships presets that meet the standards they are named after', () => {
    const hour = 3_600_000;
    const minute = 60_000;
    const get = (name: keyof typeof PRESETS) => resolvePolicy(name, { extends: name });
    assert.ok(get('nist-aal1').absoluteTimeoutMs <= 30 * 24 * hour);
    assert.ok(get('nist-aal2').absoluteTimeoutMs <= 24 * hour && get('nist-aal2').idleTimeoutMs <= hour);
    assert.ok(
      get('nist-aal3').absoluteTimeoutMs <= 12 * hour && get('nist-aal3').idleTimeoutMs <= 15 * minute,
    );
    const high = get('owasp-high-value').idleTimeoutMs;
    assert.ok(high >= 2 * minute && high <= 5 * minute);
    const low = get('owasp-low-risk');
    assert.ok(low.idleTimeoutMs >= 15 * minute && low.idleTimeoutMs <= 30 * minute);
    assert.ok(low.absoluteTimeoutMs >= 4 * hour && low.absoluteTimeoutMs <= 8 * hour);
  });
});

describe('resolvePolicies', () => {
  it('provides a default policy and every preset by name', () => {
    const policies = resolvePolicies(undefined);
    assert.equal(policies.get('default')?.idleTimeoutMs, 900_000);
    for (const name of Object.keys(PRESETS)) assert.ok(policies.has(name), name);
  });

  it('lets the config replace the default and add its own', () => {
    const policies = resolvePolicies({
      default: { idleTimeout: '5m', absoluteTimeout: '1h' },
      admin: { extends: 'nist-aal3' },
    });
    assert.equal(policies.get('default')?.idleTimeoutMs, 300_000);
    assert.equal(policies.get('admin')?.idleTimeoutMs, 900_000);
  });

  it('reports the problems of every policy together', () => {
    assert.deepEqual(
      problems(() =>
        resolvePolicies({
          default: { idleTimeout: '5m', absoluteTimeout: '1m' },
          'bad name!': {},
          admin: { idleTimeout: '1m', absoluteTimeout: '1h', warnBefore: '1m' },
        }),
      ),
      [
        { field: 'policies.default.idleTimeout', rule: 'lte_absoluteTimeout' },
        { field: 'policies.bad name!', rule: 'name' },
        { field: 'policies.admin.warnBefore', rule: 'lt_idleTimeout' },
      ],
    );
  });
});
