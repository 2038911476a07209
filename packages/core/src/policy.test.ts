import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from './duration.js';
import type { ErrorDetail } from './errors.js';
import { resolvePolicies, resolvePolicy } from './policy.js';
import { isPresetName, PRESETS, type PresetLimits } from './presets.js';

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

  it('blames the field the user set: no follow-on problem from a default or an unreadable value', () => {
    const base = { idleTimeout: '15m', absoluteTimeout: '8h' };
    assert.deepEqual(
      problems(() => resolvePolicy('t', { ...base, accessTokenTtl: '10s' })),
      [{ field: 'policies.t.accessTokenTtl', rule: 'min_60s' }],
      'refreshGrace was not set: its default fits every valid accessTokenTtl',
    );
    assert.deepEqual(
      problems(() => resolvePolicy('t', { ...base, accessTokenTtl: '10s', refreshGrace: '-1s' })),
      [
        { field: 'policies.t.refreshGrace', rule: 'duration' },
        { field: 'policies.t.accessTokenTtl', rule: 'min_60s' },
      ],
    );
    assert.deepEqual(
      problems(() => resolvePolicy('t', { ...base, accessTokenTtl: 'soon', refreshGrace: '10m' })),
      [{ field: 'policies.t.accessTokenTtl', rule: 'duration' }],
    );
    assert.deepEqual(
      problems(() => resolvePolicy('t', { ...base, refreshGrace: '10m' })),
      [{ field: 'policies.t.refreshGrace', rule: 'lt_accessTokenTtl' }],
      'a grace the user set is still compared with the default accessTokenTtl',
    );
    assert.deepEqual(
      problems(() =>
        resolvePolicy('t', { idleTimeout: '1m', absoluteTimeout: '1h', heartbeatInterval: 'often' }),
      ),
      [{ field: 'policies.t.heartbeatInterval', rule: 'duration' }],
    );
  });

  it('reports an idle timeout too short for its derived heartbeat at the idle timeout', () => {
    assert.deepEqual(
      problems(() => resolvePolicy('t', { idleTimeout: '1ms', absoluteTimeout: '1ms' })),
      [{ field: 'policies.t.idleTimeout', rule: 'min_3ms' }],
    );
    assert.equal(resolvePolicy('t', { idleTimeout: '3ms', absoluteTimeout: '1s' }).heartbeatIntervalMs, 1);
    const given = resolvePolicy('t', { idleTimeout: '2ms', absoluteTimeout: '1s', heartbeatInterval: '1ms' });
    assert.equal(given.heartbeatIntervalMs, 1);
    assert.deepEqual(
      problems(() => resolvePolicy('t', { idleTimeout: '2ms', absoluteTimeout: '1s', heartbeatInterval: 0 })),
      [{ field: 'policies.t.heartbeatInterval', rule: 'positive' }],
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

  it("gives a tighter idle time a warning of its own, not the preset's (which would not fit)", () => {
    const short = resolvePolicy('staff', { extends: 'nist-aal3', idleTimeout: '1m' });
    assert.equal(short.warnBeforeMs, 15_000);
    assert.equal(resolvePolicy('staff', { extends: 'nist-aal1', idleTimeout: '4m' }).warnBeforeMs, 60_000);
    assert.equal(resolvePolicy('staff', { extends: 'nist-aal1' }).warnBeforeMs, 300_000);
    const own = resolvePolicy('staff', { extends: 'nist-aal3', idleTimeout: '10m', warnBefore: '3m' });
    assert.equal(own.warnBeforeMs, 180_000);
  });

  it('states, for every preset, the idle, absolute, warning and bounds that the README table shows', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const rows = new Map<string, string[]>();
    for (const [, name, rest] of readme.matchAll(/^\| `([a-z0-9-]+)` \|(.*)\|$/gm)) {
      if (name !== undefined && rest !== undefined && isPresetName(name)) {
        rows.set(
          name,
          rest.split('|').map((cell) => cell.trim()),
        );
      }
    }
    assert.deepEqual([...rows.keys()], Object.keys(PRESETS), 'one row per preset, in order');
    for (const [name, [idle, absolute, warn, bounds]] of rows) {
      const preset = PRESETS[name as keyof typeof PRESETS];
      const policy = resolvePolicy(name, { extends: name });
      assert.deepEqual(
        [idle, absolute, warn].map((cell) => parseDuration(cell)),
        [policy.idleTimeoutMs, policy.absoluteTimeoutMs, policy.warnBeforeMs],
        `${name}: the README says ${[idle, absolute, warn].join(' / ')}, the code ${[policy.idleTimeoutMs, policy.absoluteTimeoutMs, policy.warnBeforeMs].map(formatDuration).join(' / ')}`,
      );
      assert.ok('warnBefore' in preset.policy, `${name} states its warning, whatever the defaults`);
      const limits: PresetLimits = preset.limits;
      const range = (what: string, min?: string, max?: string) =>
        max === undefined ? [] : [min === undefined ? `${what} ≤ ${max}` : `${what} ${min}–${max}`];
      const expected = [
        ...range('idle', limits.minIdleTimeout, limits.maxIdleTimeout),
        ...range('absolute', limits.minAbsoluteTimeout, limits.maxAbsoluteTimeout),
      ].join(', ');
      assert.ok(
        bounds?.startsWith(`${expected} (`),
        `${name}: bounds "${bounds}", expected "${expected} (…"`,
      );
    }
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

  it("holds a policy named after a preset to that preset's bounds: it extends it implicitly", () => {
    assert.deepEqual(
      problems(() => resolvePolicies({ 'nist-aal2': { idleTimeout: '2h', absoluteTimeout: '48h' } })),
      [
        { field: 'policies.nist-aal2.idleTimeout', rule: 'preset_max' },
        { field: 'policies.nist-aal2.absoluteTimeout', rule: 'preset_max' },
      ],
    );
    assert.deepEqual(
      problems(() => resolvePolicies({ 'owasp-high-value': { idleTimeout: '1m', absoluteTimeout: '1h' } })),
      [{ field: 'policies.owasp-high-value.idleTimeout', rule: 'preset_min' }],
    );
    const tighter = resolvePolicies({ 'nist-aal2': { idleTimeout: '30m' } }).get('nist-aal2');
    assert.equal(tighter?.idleTimeoutMs, 1_800_000);
    assert.equal(tighter?.absoluteTimeoutMs, 24 * 3_600_000, 'the rest comes from the preset');
    assert.deepEqual(
      problems(() => resolvePolicies({ 'nist-aal2': { extends: 'owasp-low-risk' } })),
      [{ field: 'policies.nist-aal2.extends', rule: 'preset_name' }],
    );
    assert.equal(
      resolvePolicies({ 'nist-aal3': { extends: 'nist-aal3', maxSessions: 1 } }).get('nist-aal3')
        ?.maxSessions,
      1,
    );
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
