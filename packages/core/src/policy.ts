import { type Duration, formatDuration, parseDuration } from './duration.js';
import { type ErrorDetail, ValidationError } from './errors.js';
import { isPresetName, PRESETS, type PresetLimits } from './presets.js';

/** A policy as written in a config file. Durations are strings such as `15m` or integers of ms. */
export interface PolicyInput {
  /** A preset name (`nist-aal2`, `owasp-low-risk`, …) to start from; the fields here override it. */
  extends?: string;
  idleTimeout?: Duration;
  absoluteTimeout?: Duration;
  warnBefore?: Duration;
  heartbeatInterval?: Duration;
  /** At most this many live sessions per subject; creating one more ends the oldest (`evicted`). */
  maxSessions?: number | null;
  /** Touches that move the idle deadline by less than this may be skipped (DESIGN: coalescing). */
  touchGranularity?: Duration;
  /** Token mode: longest life of an access token (default `5m`, at least `60s`). */
  accessTokenTtl?: Duration;
  /** Token mode: how long the refresh token just replaced still gets the current one (default `10s`). */
  refreshGrace?: Duration;
}

/** A validated policy, every duration in milliseconds. */
export interface Policy {
  name: string;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  warnBeforeMs: number;
  heartbeatIntervalMs: number;
  maxSessions: number | null;
  touchGranularityMs: number;
  /** Token mode: an access token's `exp` is at most this long after it was signed. */
  accessTokenTtlMs: number;
  /** Token mode: the grace window for the immediately previous refresh token. */
  refreshGraceMs: number;
}

const FIELDS = new Set([
  'extends',
  'idleTimeout',
  'absoluteTimeout',
  'warnBefore',
  'heartbeatInterval',
  'maxSessions',
  'touchGranularity',
  'accessTokenTtl',
  'refreshGrace',
]);

/** Used when a config names no `default` policy: a common compliance setting (15 min idle, 8 h). */
export const DEFAULT_POLICY_INPUT: PolicyInput = { idleTimeout: '15m', absoluteTimeout: '8h' };

const MAX_TOUCH_GRANULARITY_MS = 1000;
/** Shorter access tokens would mostly measure clock skew between Vigil and the resource servers. */
const MIN_ACCESS_TOKEN_TTL_MS = 60_000;

/** Validates one policy, collecting every problem, each naming its field and the rule it breaks. */
export function resolvePolicy(name: string, input: unknown, path = `policies.${name}`): Policy {
  const details: ErrorDetail[] = [];
  const problem = (field: string, rule: string, message: string) =>
    details.push({ field: `${path}.${field}`, rule, message });

  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError([{ field: path, rule: 'type', message: 'must be an object' }]);
  }
  const own = input as Record<string, unknown>;
  for (const key of Object.keys(own)) {
    if (!FIELDS.has(key))
      problem(key, 'unknown_field', `is not a policy field (known: ${[...FIELDS].join(', ')})`);
  }

  let base: Record<string, unknown> = {};
  let limits: PresetLimits = {};
  if (own.extends !== undefined) {
    if (typeof own.extends === 'string' && isPresetName(own.extends)) {
      base = { ...PRESETS[own.extends].policy };
      limits = PRESETS[own.extends].limits;
    } else {
      problem('extends', 'unknown_preset', `must be one of ${Object.keys(PRESETS).join(', ')}`);
    }
  }
  const merged: Record<string, unknown> = { ...base, ...own };

  const duration = (field: string): number | undefined => {
    if (merged[field] === undefined) return undefined;
    try {
      return parseDuration(merged[field], `${path}.${field}`);
    } catch (error) {
      if (error instanceof ValidationError) details.push(...error.details);
      return undefined;
    }
  };

  const idle = duration('idleTimeout');
  const absolute = duration('absoluteTimeout');
  const warnGiven = duration('warnBefore');
  const heartbeatGiven = duration('heartbeatInterval');
  const granularityGiven = duration('touchGranularity');
  const accessTokenTtl = duration('accessTokenTtl') ?? 300_000;
  const refreshGrace = duration('refreshGrace') ?? 10_000;

  if (merged.idleTimeout === undefined) problem('idleTimeout', 'required', 'is required');
  if (merged.absoluteTimeout === undefined) problem('absoluteTimeout', 'required', 'is required');
  if (idle === 0) problem('idleTimeout', 'positive', 'must be longer than 0');
  if (absolute === 0) problem('absoluteTimeout', 'positive', 'must be longer than 0');

  let maxSessions: number | null = null;
  if (merged.maxSessions !== undefined && merged.maxSessions !== null) {
    if (Number.isSafeInteger(merged.maxSessions) && (merged.maxSessions as number) >= 1) {
      maxSessions = merged.maxSessions as number;
    } else {
      problem('maxSessions', 'positive_integer', 'must be an integer of at least 1 (or null for no limit)');
    }
  }

  if (idle === undefined || absolute === undefined || idle === 0 || absolute === 0) {
    throw new ValidationError(details);
  }

  if (idle > absolute) {
    problem(
      'idleTimeout',
      'lte_absoluteTimeout',
      `(${formatDuration(idle)}) must not exceed absoluteTimeout (${formatDuration(absolute)})`,
    );
  }
  // Defaults scale with the idle timeout so that a short test policy (`idleTimeout: '2s'`) is valid.
  const warnBefore = warnGiven ?? Math.min(120_000, Math.floor(idle / 4));
  const heartbeatInterval = heartbeatGiven ?? Math.floor(idle / 3);
  const touchGranularity = granularityGiven ?? Math.min(MAX_TOUCH_GRANULARITY_MS, Math.floor(idle / 100));

  if (warnBefore >= idle) {
    problem(
      'warnBefore',
      'lt_idleTimeout',
      `(${formatDuration(warnBefore)}) must be shorter than idleTimeout (${formatDuration(idle)})`,
    );
  }
  if (heartbeatInterval === 0) problem('heartbeatInterval', 'positive', 'must be longer than 0');
  if (heartbeatInterval >= idle) {
    problem(
      'heartbeatInterval',
      'lt_idleTimeout',
      `(${formatDuration(heartbeatInterval)}) must be shorter than idleTimeout (${formatDuration(idle)}), or every session would time out between two heartbeats`,
    );
  }
  if (touchGranularity > Math.floor(idle / 10)) {
    problem(
      'touchGranularity',
      'lte_tenth_of_idleTimeout',
      `(${formatDuration(touchGranularity)}) must be at most a tenth of idleTimeout`,
    );
  }
  if (accessTokenTtl < MIN_ACCESS_TOKEN_TTL_MS) {
    problem('accessTokenTtl', 'min_60s', `(${formatDuration(accessTokenTtl)}) must be at least 60s`);
  }
  if (refreshGrace >= accessTokenTtl) {
    problem(
      'refreshGrace',
      'lt_accessTokenTtl',
      `(${formatDuration(refreshGrace)}) must be shorter than accessTokenTtl (${formatDuration(accessTokenTtl)})`,
    );
  }
  checkLimits(limits, idle, absolute, String(own.extends), problem);

  if (details.length > 0) throw new ValidationError(details);
  return {
    name,
    idleTimeoutMs: idle,
    absoluteTimeoutMs: absolute,
    warnBeforeMs: warnBefore,
    heartbeatIntervalMs: heartbeatInterval,
    maxSessions,
    touchGranularityMs: touchGranularity,
    accessTokenTtlMs: accessTokenTtl,
    refreshGraceMs: refreshGrace,
  };
}

function checkLimits(
  limits: PresetLimits,
  idle: number,
  absolute: number,
  preset: string,
  problem: (field: string, rule: string, message: string) => void,
): void {
  const bound = (field: string, value: number, limit: string | undefined, kind: 'min' | 'max') => {
    if (limit === undefined) return;
    const limitMs = parseDuration(limit);
    if (kind === 'max' ? value > limitMs : value < limitMs) {
      problem(
        field,
        `preset_${kind}`,
        `(${formatDuration(value)}) must be ${kind === 'max' ? 'at most' : 'at least'} ${limit} to stay within ${preset}`,
      );
    }
  };
  bound('idleTimeout', idle, limits.minIdleTimeout, 'min');
  bound('idleTimeout', idle, limits.maxIdleTimeout, 'max');
  bound('absoluteTimeout', absolute, limits.minAbsoluteTimeout, 'min');
  bound('absoluteTimeout', absolute, limits.maxAbsoluteTimeout, 'max');
}

/**
 * Validates the `policies` section of a config. A policy named `default` applies to sessions
 * created without one; when the config has none, Vigil's own default (15 min idle, 8 h) is used.
 * Every preset is also available by its own name.
 */
export function resolvePolicies(input: unknown, path = 'policies'): Map<string, Policy> {
  const policies = new Map<string, Policy>();
  const details: ErrorDetail[] = [];
  const add = (name: string, value: unknown, at: string) => {
    try {
      policies.set(name, resolvePolicy(name, value, at));
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      details.push(...error.details);
    }
  };
  for (const name of Object.keys(PRESETS)) add(name, { extends: name }, `presets.${name}`);
  if (input !== undefined) {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new ValidationError([
        { field: path, rule: 'type', message: 'must be an object of named policies' },
      ]);
    }
    for (const [name, value] of Object.entries(input)) {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
        details.push({
          field: `${path}.${name}`,
          rule: 'name',
          message: 'a policy name is 1–64 letters, digits, _ . or -',
        });
        continue;
      }
      add(name, value, `${path}.${name}`);
    }
  }
  const named = input as Record<string, unknown> | undefined;
  if (named?.default === undefined) add('default', DEFAULT_POLICY_INPUT, 'policies.default');
  if (details.length > 0) throw new ValidationError(details);
  return policies;
}
