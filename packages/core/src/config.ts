import { parseDuration } from './duration.js';
import { type ErrorDetail, ValidationError } from './errors.js';
import { type Policy, resolvePolicies } from './policy.js';

/** The config file as written (JSON). */
export interface ConfigInput {
  policies?: Record<string, unknown>;
  /** Longest a store call may take before requests answer `503` (default `2s`). */
  storeTimeout?: string | number;
  /** How long ended sessions are kept so that a `401` can say why (default `24h`). */
  endedRetention?: string | number;
  /** Per-session heartbeat limit: a burst, then a steady rate (defaults 10 and 1 per second). */
  heartbeatRateLimit?: { burst?: number; perSecond?: number };
}

export interface VigilConfig {
  policies: Map<string, Policy>;
  storeTimeoutMs: number;
  endedRetentionMs: number;
  heartbeatRateLimit: { burst: number; perSecond: number };
}

const TOP_LEVEL = new Set(['policies', 'storeTimeout', 'endedRetention', 'heartbeatRateLimit']);

/** Validates a whole config, reporting every problem at once with the path of its field. */
export function resolveConfig(input: unknown = {}): VigilConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError([
      { field: '(root)', rule: 'type', message: 'the config must be a JSON object' },
    ]);
  }
  const raw = input as Record<string, unknown>;
  const details: ErrorDetail[] = [];
  for (const key of Object.keys(raw)) {
    if (!TOP_LEVEL.has(key)) {
      details.push({
        field: key,
        rule: 'unknown_field',
        message: `is not a config field (known: ${[...TOP_LEVEL].join(', ')})`,
      });
    }
  }
  const collect = <T>(compute: () => T, fallback: T): T => {
    try {
      return compute();
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      details.push(...error.details);
      return fallback;
    }
  };
  const policies = collect(() => resolvePolicies(raw.policies), new Map<string, Policy>());
  const storeTimeoutMs = collect(() => parseDuration(raw.storeTimeout ?? '2s', 'storeTimeout'), 2000);
  const endedRetentionMs = collect(() => parseDuration(raw.endedRetention ?? '24h', 'endedRetention'), 0);
  if (storeTimeoutMs === 0)
    details.push({ field: 'storeTimeout', rule: 'positive', message: 'must be longer than 0' });

  const limit = (raw.heartbeatRateLimit ?? {}) as Record<string, unknown>;
  const burst = limit.burst ?? 10;
  const perSecond = limit.perSecond ?? 1;
  if (typeof limit !== 'object' || Array.isArray(limit)) {
    details.push({
      field: 'heartbeatRateLimit',
      rule: 'type',
      message: 'must be an object {burst, perSecond}',
    });
  }
  if (!Number.isSafeInteger(burst) || (burst as number) < 1) {
    details.push({
      field: 'heartbeatRateLimit.burst',
      rule: 'positive_integer',
      message: 'must be an integer of at least 1',
    });
  }
  if (typeof perSecond !== 'number' || !(perSecond > 0) || !Number.isFinite(perSecond)) {
    details.push({
      field: 'heartbeatRateLimit.perSecond',
      rule: 'positive',
      message: 'must be a number above 0',
    });
  }
  if (details.length > 0) throw new ValidationError(details);
  return {
    policies,
    storeTimeoutMs,
    endedRetentionMs,
    heartbeatRateLimit: { burst: burst as number, perSecond: perSecond as number },
  };
}
