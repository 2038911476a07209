import { type Duration, formatDuration, parseDuration } from './duration.js';
import { type ErrorDetail, ValidationError } from './errors.js';
import { isPresetName, PRESETS, type PresetLimits, type PresetName } from './presets.js';

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
const DEFAULT_ACCESS_TOKEN_TTL_MS = 300_000;
/** Shorter than MIN_ACCESS_TOKEN_TTL_MS, so the default grace fits every valid access-token lifetime. */
const DEFAULT_REFRESH_GRACE_MS = 10_000;

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

  const preset = presetOf(name, own, problem);
  const base = preset === undefined ? {} : inherited(PRESETS[preset].policy, own);
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

  // `…Given` is undefined when the field is absent *or* unreadable (already reported): only values
  // that were given and read are checked below, so that no problem blames a default the user never
  // set, or a fallback standing in for a value that is already reported as unreadable.
  const idle = duration('idleTimeout');
  const absolute = duration('absoluteTimeout');
  const warnGiven = duration('warnBefore');
  const heartbeatGiven = duration('heartbeatInterval');
  const granularityGiven = duration('touchGranularity');
  const ttlGiven = duration('accessTokenTtl');
  const graceGiven = duration('refreshGrace');

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
  // Each fits its idle timeout by construction, except a heartbeat of 0 from an idle timeout under
  // 3 ms: that is the idle timeout's fault, so it is reported there.
  const warnBefore = warnGiven ?? Math.min(120_000, Math.floor(idle / 4));
  const heartbeatInterval = heartbeatGiven ?? Math.floor(idle / 3);
  const touchGranularity = granularityGiven ?? Math.min(MAX_TOUCH_GRANULARITY_MS, Math.floor(idle / 100));
  const accessTokenTtl = ttlGiven ?? DEFAULT_ACCESS_TOKEN_TTL_MS;
  const refreshGrace = graceGiven ?? DEFAULT_REFRESH_GRACE_MS;

  if (merged.heartbeatInterval === undefined && heartbeatInterval === 0) {
    problem(
      'idleTimeout',
      'min_3ms',
      `(${formatDuration(idle)}) must be at least 3ms, so that the default heartbeatInterval (a third of it) is longer than 0 (or give a heartbeatInterval)`,
    );
  }
  if (warnGiven !== undefined && warnGiven >= idle) {
    problem(
      'warnBefore',
      'lt_idleTimeout',
      `(${formatDuration(warnGiven)}) must be shorter than idleTimeout (${formatDuration(idle)})`,
    );
  }
  if (heartbeatGiven === 0) problem('heartbeatInterval', 'positive', 'must be longer than 0');
  if (heartbeatGiven !== undefined && heartbeatGiven >= idle) {
    problem(
      'heartbeatInterval',
      'lt_idleTimeout',
      `(${formatDuration(heartbeatGiven)}) must be shorter than idleTimeout (${formatDuration(idle)}), or every session would time out between two heartbeats`,
    );
  }
  if (granularityGiven !== undefined && granularityGiven > Math.floor(idle / 10)) {
    problem(
      'touchGranularity',
      'lte_tenth_of_idleTimeout',
      `(${formatDuration(granularityGiven)}) must be at most a tenth of idleTimeout`,
    );
  }
  if (ttlGiven !== undefined && ttlGiven < MIN_ACCESS_TOKEN_TTL_MS) {
    problem('accessTokenTtl', 'min_60s', `(${formatDuration(ttlGiven)}) must be at least 60s`);
  }
  // The default grace fits every valid accessTokenTtl, so only a grace that was given can be wrong;
  // and it is compared with an accessTokenTtl that was given and read, or with the default.
  const ttlKnown = ttlGiven !== undefined || merged.accessTokenTtl === undefined;
  if (graceGiven !== undefined && ttlKnown && graceGiven >= accessTokenTtl) {
    problem(
      'refreshGrace',
      'lt_accessTokenTtl',
      `(${formatDuration(graceGiven)}) must be shorter than accessTokenTtl (${formatDuration(accessTokenTtl)})`,
    );
  }
  if (preset !== undefined) {
    const within = own.extends === undefined ? `${preset}, the preset this policy is named after` : preset;
    checkLimits(PRESETS[preset].limits, idle, absolute, within, problem);
  }

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

/**
 * The preset a policy builds on: the one it `extends`, or the one whose name it takes. Sessions
 * created with a preset's name get the policy that bears it, so a policy that takes the name is held
 * to the preset's bounds like any extension: `"nist-aal2": {…}` may tighten AAL2, never loosen it.
 * Such a policy cannot extend a different preset: its sessions would carry one standard's name and
 * another's values.
 */
function presetOf(
  name: string,
  own: Record<string, unknown>,
  problem: (field: string, rule: string, message: string) => void,
): PresetName | undefined {
  const named = isPresetName(name) ? name : undefined;
  if (own.extends === undefined) return named;
  if (typeof own.extends !== 'string' || !isPresetName(own.extends)) {
    problem('extends', 'unknown_preset', `must be one of ${Object.keys(PRESETS).join(', ')}`);
    return named;
  }
  if (named !== undefined && own.extends !== named) {
    problem(
      'extends',
      'preset_name',
      `a policy named ${named} extends the preset ${named}, so it cannot extend ${own.extends}; give it a name of its own`,
    );
    return named;
  }
  return own.extends;
}

/** Fields a preset chose for its own idle timeout; a policy that sets another one derives them afresh. */
const FOLLOW_IDLE = new Set(['warnBefore', 'heartbeatInterval', 'touchGranularity']);

/**
 * What a policy takes over from its preset. A preset's warning fits the preset's idle timeout, not
 * necessarily a tighter one (`nist-aal3`'s 2m warning and a 1m idle timeout): inheriting it would
 * refuse a valid tightening and blame a field the user never set.
 */
function inherited(preset: PolicyInput, own: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(preset).filter(([field]) => own.idleTimeout === undefined || !FOLLOW_IDLE.has(field)),
  );
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
 * Every preset is also available by its own name; a policy of the same name replaces it, within the
 * preset's bounds (see `presetOf`).
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
